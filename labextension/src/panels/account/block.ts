/**
 * One block of the Account tab (Profile, Settings, Sessions, ...): a titled
 * region that loads its own data, shows loading and the server's message on
 * failure, and reloads with latest-request-wins. Blocks load independently,
 * so a route that fails (e.g. sessions on a server without accounts) leaves
 * the others usable.
 */
import { errorMessage } from '../../api';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { errorView, loadingView } from '../../ui/status';

export const CSS = 'jp-AnalyticsAccount';

export abstract class AccountBlock {
  readonly node: HTMLElement;

  constructor(
    protected readonly ctx: IAnalyticsContext,
    readonly key: string,
    readonly title: string,
    intro?: string
  ) {
    const heading = h('h2', {
      className: `${CSS}-blockTitle`,
      text: title,
      attrs: { id: `analytics-account-${key}-title` }
    });
    this.message = messageLine(`account-${key}-message`);
    this.body = h('div', {
      className: `${CSS}-blockBody`,
      attrs: { 'aria-live': 'polite' }
    });
    this.node = h(
      'section',
      {
        className: `${CSS}-panel`,
        testId: `account-${key}`,
        attrs: { 'aria-labelledby': heading.id }
      },
      heading,
      ...(intro ? [h('p', { className: `${CSS}-intro`, text: intro })] : []),
      this.body,
      this.message.node
    );
  }

  /** Fetch and render; only the latest call replaces the body. */
  async load(): Promise<void> {
    const request = ++this._request;
    this.body.setAttribute('aria-busy', 'true');
    if (!this._rendered) {
      this.body.replaceChildren(loadingView());
    }
    try {
      const content = await this.render();
      if (request === this._request) {
        this._rendered = true;
        this.body.replaceChildren(content);
      }
    } catch (error) {
      if (request === this._request) {
        this._rendered = false;
        this.body.replaceChildren(
          errorView(
            errorMessage(error),
            `Could not load ${this.title.toLowerCase()}`
          )
        );
      }
    } finally {
      if (request === this._request) {
        this.body.setAttribute('aria-busy', 'false');
      }
    }
  }

  protected abstract render(): Promise<Node>;

  /** Tell the sidebar (and anyone else showing the account) that it changed. */
  protected changed(): void {
    this.ctx.notifyChanged({ area: 'account' });
  }

  protected readonly body: HTMLElement;
  /** Outcome of the block's last action; outlives re-renders of the body. */
  protected readonly message: ReturnType<typeof messageLine>;
  private _request = 0;
  private _rendered = false;
}

/** A `<button>` with a test id that runs `onClick` (disabled while it runs). */
export function button(
  text: string,
  testId: string,
  onClick: (button: HTMLButtonElement) => Promise<void> | void,
  kind: 'accept' | 'reject' | 'warn' | 'plain' = 'plain'
): HTMLButtonElement {
  const node = h('button', {
    className: `jp-mod-styled ${kind === 'plain' ? `${CSS}-button` : `jp-mod-${kind}`}`,
    testId,
    text,
    attrs: { type: 'button' }
  });
  node.addEventListener('click', () => {
    if (node.disabled) {
      return;
    }
    node.disabled = true;
    void Promise.resolve(onClick(node)).finally(() => {
      node.disabled = false;
    });
  });
  return node;
}

/** An inline message line (`role=alert` for errors) that can be set and cleared. */
export function messageLine(testId: string): {
  node: HTMLElement;
  error(text: string): void;
  info(text: string): void;
  clear(): void;
} {
  const node = h('div', { className: `${CSS}-message`, testId });
  node.hidden = true;
  const set = (text: string, error: boolean): void => {
    node.hidden = false;
    node.textContent = text;
    node.classList.toggle(`${CSS}-message-error`, error);
    node.setAttribute('role', error ? 'alert' : 'status');
  };
  return {
    node,
    error: text => set(text, true),
    info: text => set(text, false),
    clear: () => {
      node.hidden = true;
      node.textContent = '';
    }
  };
}
