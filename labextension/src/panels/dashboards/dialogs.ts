/**
 * The Dashboards section's dialogs. `SubmitDialog` runs the server call when
 * the accept button is pressed and stays open until it succeeds: while it is
 * pending the buttons are disabled (nothing half-submitted, no double
 * submit), and a failure shows the server's message in the dialog with the
 * form as the user left it.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../../api';
import type { IDashboard, IPublishResult } from '../../api/dashboards';
import { h } from '../../ui/dom';
import { checkTitle } from './model';

const CSS = 'jp-AnalyticsDashboards';

/** A dialog body that can show the outcome of the last submit. */
export class FormBody extends Widget {
  constructor(...children: Node[]) {
    super({ node: h('div', { className: `${CSS}-dialogBody` }) });
    this.error = h('div', {
      className: `${CSS}-dialogError`,
      testId: 'dashboards-dialog-error',
      attrs: { role: 'alert' }
    });
    this.error.hidden = true;
    this.node.append(...children, this.error);
  }

  showError(message: string | null): void {
    this.error.textContent = message ?? '';
    this.error.hidden = message === null;
  }

  readonly error: HTMLDivElement;
}

/** A text field with its label; what the name dialogs read. */
class NameBody extends FormBody implements Dialog.IBodyWidget<string> {
  constructor(label: string, value: string) {
    const input = h('input', {
      className: `${CSS}-nameInput jp-mod-styled`,
      testId: 'dashboards-name-input',
      attrs: {
        type: 'text',
        maxlength: '200',
        required: '',
        'aria-label': label
      }
    });
    input.value = value;
    super(
      h(
        'label',
        { className: `${CSS}-field` },
        h('span', { text: label }),
        input
      )
    );
    this.input = input;
  }

  getValue(): string {
    return this.input.value;
  }

  readonly input: HTMLInputElement;
}

export interface ISubmitOptions<T> {
  title: string;
  body: FormBody & { getValue(): T };
  accept: string;
  /** Red accept button (deleting). */
  warn?: boolean;
  /** The server call; throwing keeps the dialog open with the message. */
  submit: (value: T) => Promise<void>;
  /** A check before anything is sent; a message keeps the dialog open. */
  check?: (value: T) => string | null;
  focus?: string;
}

/** A dialog whose accept button submits and waits (see the module doc). */
class SubmitDialog<T> extends Dialog<T> {
  constructor(private readonly _options: ISubmitOptions<T>) {
    super({
      title: _options.title,
      body: _options.body,
      buttons: [
        Dialog.cancelButton(),
        _options.warn
          ? Dialog.warnButton({ label: _options.accept })
          : Dialog.okButton({ label: _options.accept })
      ],
      defaultButton: 1,
      focusNodeSelector: _options.focus
    });
    this.addClass(`${CSS}-dialog`);
  }

  override resolve(index?: number): void {
    if (this._pending) {
      return;
    }
    if ((index ?? 1) !== 1) {
      super.resolve(index);
      return;
    }
    const body = this._options.body;
    const value = body.getValue();
    const problem = this._options.check?.(value) ?? null;
    body.showError(problem);
    if (problem !== null) {
      return;
    }
    this._setPending(true);
    this._options.submit(value).then(
      () => {
        this._setPending(false);
        super.resolve(1);
      },
      (error: unknown) => {
        this._setPending(false);
        body.showError(errorMessage(error));
      }
    );
  }

  override reject(): void {
    if (!this._pending) {
      super.reject();
    }
  }

  private _setPending(pending: boolean): void {
    this._pending = pending;
    this.toggleClass('jp-mod-busy', pending);
    this.node.setAttribute('aria-busy', String(pending));
    for (const button of this.node.querySelectorAll<HTMLButtonElement>(
      '.jp-Dialog-footer button'
    )) {
      button.disabled = pending;
    }
  }

  private _pending = false;
}

/** Run a submit dialog; true when the submit succeeded. */
export async function runSubmitDialog<T>(
  options: ISubmitOptions<T>
): Promise<boolean> {
  const dialog = new SubmitDialog<T>(options);
  try {
    const result = await dialog.launch();
    return result.button.accept;
  } finally {
    dialog.dispose();
  }
}

/** Ask for a new dashboard's name and create it; resolves to the new one, or null. */
export async function newDashboardDialog(
  create: (title: string) => Promise<IDashboard>
): Promise<IDashboard | null> {
  let created: IDashboard | null = null;
  await runSubmitDialog({
    title: 'New dashboard',
    body: new NameBody('Name', ''),
    accept: 'Create',
    focus: 'input',
    check: checkTitle,
    submit: async title => {
      created = await create(title.trim());
    }
  });
  return created;
}

/** Ask for a new name and save it; true when renamed. */
export function renameDashboardDialog(
  dashboard: IDashboard,
  rename: (title: string) => Promise<void>
): Promise<boolean> {
  return runSubmitDialog({
    title: 'Rename dashboard',
    body: new NameBody('New name', dashboard.title),
    accept: 'Rename',
    focus: 'input',
    check: title =>
      checkTitle(title) ??
      (title.trim() === dashboard.title ? 'That is its name already.' : null),
    submit: title => rename(title.trim())
  });
}

/** A body that holds only text (confirmations). */
class TextBody extends FormBody implements Dialog.IBodyWidget<null> {
  getValue(): null {
    return null;
  }
}

/** Confirm and delete; true when deleted. */
export function deleteDashboardDialog(
  dashboard: IDashboard,
  remove: () => Promise<void>
): Promise<boolean> {
  const published = dashboard.published_version !== null;
  return runSubmitDialog({
    title: 'Delete dashboard',
    body: new TextBody(
      h(
        'p',
        {},
        document.createTextNode('Delete '),
        h('strong', {
          text: dashboard.title,
          testId: 'dashboards-dialog-name'
        }),
        document.createTextNode(' and all its versions?')
      ),
      h('p', {
        text: published
          ? 'Its viewers lose it at once: the published view and every share link stop working. This cannot be undone.'
          : 'This cannot be undone.'
      })
    ),
    accept: 'Delete',
    warn: true,
    submit: remove
  });
}

/**
 * Say what publishing does, then publish; resolves to the server's answer,
 * or null when the user cancelled.
 */
export async function publishDashboardDialog(
  dashboard: IDashboard,
  publish: () => Promise<IPublishResult>
): Promise<IPublishResult | null> {
  const again = dashboard.published_version !== null;
  let result: IPublishResult | null = null;
  await runSubmitDialog({
    title: again ? 'Publish again' : 'Publish dashboard',
    body: new TextBody(
      h(
        'p',
        {},
        document.createTextNode('Publish '),
        h('strong', {
          text: dashboard.title,
          testId: 'dashboards-dialog-name'
        }),
        document.createTextNode(
          ` as it is saved now (version ${dashboard.version})?`
        )
      ),
      h(
        'ul',
        { className: `${CSS}-dialogList` },
        h('li', {
          text: 'Viewers open it at its viewer page, drawn live by a Voila kernel on this server: everyone it is shared with, and anyone holding one of its share links.'
        }),
        h('li', {
          text: again
            ? `They see version ${dashboard.version} instead of version ${dashboard.published_version}.`
            : 'They see this version until you publish again: later saves stay private until then.'
        }),
        h('li', {
          text: 'Tiles run with your access to their queries and charts; viewers never get the queries or the datasource themselves.'
        })
      )
    ),
    accept: again ? 'Publish again' : 'Publish',
    submit: async () => {
      result = await publish();
    }
  });
  return result;
}

/** What the user wants after publishing. */
export type AfterPublish = 'close' | 'open' | 'browser';

/** Show the published version and the viewer URL; offers to open it. */
export async function publishedDialog(
  dashboard: IDashboard,
  result: IPublishResult
): Promise<AfterPublish> {
  const url = h('input', {
    className: `${CSS}-url jp-mod-styled`,
    testId: 'dashboards-published-url',
    attrs: { type: 'text', readonly: '', 'aria-label': 'Viewer URL' }
  });
  url.value = result.viewer_url;
  url.addEventListener('focus', () => url.select());
  const body = new Widget({
    node: h(
      'div',
      { className: `${CSS}-dialogBody` },
      h(
        'p',
        {},
        h('strong', { text: dashboard.title }),
        document.createTextNode(' is published: viewers see '),
        h('span', {
          testId: 'dashboards-published-version',
          text: `version ${result.version}`
        }),
        document.createTextNode('.')
      ),
      h(
        'label',
        { className: `${CSS}-field` },
        h('span', { text: 'Viewer URL' }),
        url
      ),
      h('p', {
        className: `${CSS}-hint`,
        text: 'People without an account on this server need a share link (Share…).'
      })
    )
  });
  const answer = await new Dialog<unknown>({
    title: 'Published',
    body,
    buttons: [
      Dialog.cancelButton({ label: 'Close' }),
      Dialog.okButton({
        label: 'Open in new browser tab',
        displayType: 'default'
      }),
      Dialog.okButton({ label: 'Open in JupyterLab' })
    ],
    defaultButton: 2
  }).launch();
  if (!answer.button.accept) {
    return 'close';
  }
  return answer.button.label === 'Open in JupyterLab' ? 'open' : 'browser';
}
