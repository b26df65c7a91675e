/**
 * The Analytics sidebar: who is logged in and what the server runs.
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { AnalyticsAPI, errorMessage } from '../../api';
import { analyticsIcon } from '../../icons';
import {
  SIDEBAR_ID,
  type IAnalyticsUser,
  type IServerInfo
} from '../../tokens';
import { h } from './dom';
import { errorView, loadingView, serverView, userView } from './views';

interface ISidebarData {
  user: IAnalyticsUser;
  info: IServerInfo;
}

export class AnalyticsSidebar extends Widget {
  constructor(api: AnalyticsAPI = new AnalyticsAPI()) {
    super();
    this._api = api;
    this.id = SIDEBAR_ID;
    this.addClass('jp-AnalyticsSidebar');
    this.title.icon = analyticsIcon;
    // Caption only: like the core sidebars, the tab shows the icon and the caption as tooltip.
    this.title.caption = 'Analytics';

    this._refreshButton = h(
      'button',
      {
        className: 'jp-AnalyticsSidebar-refresh',
        testId: 'analytics-refresh',
        attrs: { type: 'button', title: 'Reload user and server information' }
      },
      refreshIcon.element({
        tag: 'span',
        className: 'jp-AnalyticsSidebar-refreshIcon'
      }),
      h('span', { text: 'Refresh' })
    );
    this._refreshButton.addEventListener('click', () => void this.refresh());

    this._body = h('div', {
      className: 'jp-AnalyticsSidebar-body',
      attrs: { 'aria-live': 'polite' }
    });

    this.node.append(
      h(
        'header',
        { className: 'jp-AnalyticsSidebar-header' },
        h('h2', { className: 'jp-AnalyticsSidebar-title', text: 'Analytics' }),
        this._refreshButton
      ),
      this._body
    );
  }

  /**
   * Fetch the user and the server info again and re-render. Concurrent calls
   * are fine: only the latest one renders.
   */
  async refresh(): Promise<void> {
    const request = ++this._request;
    this._setBusy(true);
    if (this._data === null) {
      this._body.replaceChildren(loadingView());
    }
    try {
      const [user, info] = await Promise.all([
        this._api.getCurrentUser(),
        this._api.getServerInfo()
      ]);
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._data = { user, info };
      this._body.replaceChildren(userView(user), serverView(info));
    } catch (error) {
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._data = null;
      this._body.replaceChildren(errorView(errorMessage(error)));
    } finally {
      if (request === this._request && !this.isDisposed) {
        this._setBusy(false);
      }
    }
  }

  /** Load lazily: the first time the sidebar is shown. */
  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._loadedOnce) {
      this._loadedOnce = true;
      void this.refresh();
    }
  }

  private _setBusy(busy: boolean): void {
    this._refreshButton.disabled = busy;
    this._body.setAttribute('aria-busy', String(busy));
    this.toggleClass('jp-mod-busy', busy);
  }

  private readonly _api: AnalyticsAPI;
  private readonly _body: HTMLDivElement;
  private readonly _refreshButton: HTMLButtonElement;
  private _data: ISidebarData | null = null;
  private _loadedOnce = false;
  private _request = 0;
}
