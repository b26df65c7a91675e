/**
 * The base of every sidebar section: a toolbar in the accordion title, a body
 * that shows loading / error / content, lazy first load, latest-request-wins
 * refresh, and reloading when another panel reports a change to an area this
 * section shows.
 */
import {
  Toolbar,
  ToolbarButton,
  type LabIcon
} from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../api';
import type {
  AnalyticsArea,
  IAnalyticsChange,
  IAnalyticsContext,
  IAnalyticsSection
} from '../context';
import { h } from './dom';
import { errorView, loadingView } from './status';

export interface ISectionOptions {
  ctx: IAnalyticsContext;
  /** DOM id, e.g. `analytics-ext:datasources`. */
  id: string;
  /** Accordion title. */
  label: string;
  /** Areas whose changes make this section reload. */
  watches: AnalyticsArea[];
  /** Title of the error box when loading fails. */
  errorTitle?: string;
}

export interface IButtonOptions {
  icon: LabIcon;
  tooltip: string;
  testId: string;
  onClick: () => void;
  label?: string;
}

export abstract class AnalyticsSectionWidget
  extends Widget
  implements IAnalyticsSection
{
  readonly toolbar = new Toolbar();

  constructor(options: ISectionOptions) {
    super();
    this.ctx = options.ctx;
    this.id = options.id;
    this.title.label = options.label;
    this._errorTitle =
      options.errorTitle ?? `Could not load ${options.label.toLowerCase()}`;
    this.addClass('jp-AnalyticsSection');
    this.body = h('div', {
      className: 'jp-AnalyticsSection-body',
      attrs: { 'aria-live': 'polite' }
    });
    this.node.append(this.body);
    const watches = new Set(options.watches);
    this.ctx.changed.connect((_, change: IAnalyticsChange) => {
      if (watches.has(change.area) && this._loadedOnce && !this.isDisposed) {
        void this.refresh();
      }
    });
  }

  /** Add a button to the section's title bar. */
  protected addButton(options: IButtonOptions): ToolbarButton {
    const button = new ToolbarButton({
      icon: options.icon,
      tooltip: options.tooltip,
      label: options.label,
      onClick: options.onClick
    });
    button.node.dataset.testid = options.testId;
    this.toolbar.addItem(options.testId, button);
    return button;
  }

  /**
   * Fetch and render (`render`). Concurrent calls are fine: only the latest
   * one replaces the body. A failure shows the server's message in place.
   */
  async refresh(): Promise<void> {
    this._loadedOnce = true;
    const request = ++this._request;
    this.toggleClass('jp-mod-busy', true);
    this.body.setAttribute('aria-busy', 'true');
    if (!this._rendered) {
      this.body.replaceChildren(loadingView());
    }
    try {
      const content = await this.render();
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._rendered = true;
      this.body.replaceChildren(content);
    } catch (error) {
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._rendered = false;
      this.body.replaceChildren(
        errorView(errorMessage(error), this._errorTitle)
      );
    } finally {
      if (request === this._request && !this.isDisposed) {
        this.toggleClass('jp-mod-busy', false);
        this.body.setAttribute('aria-busy', 'false');
      }
    }
  }

  /** Fetch what the section shows and build its DOM (no side effects on `body`). */
  protected abstract render(): Promise<Node>;

  /** Load lazily: the first time the section is shown. */
  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._loadedOnce) {
      void this.refresh();
    }
  }

  protected readonly ctx: IAnalyticsContext;
  protected readonly body: HTMLDivElement;
  private readonly _errorTitle: string;
  private _loadedOnce = false;
  private _rendered = false;
  private _request = 0;
}
