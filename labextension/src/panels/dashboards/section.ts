/**
 * The Dashboards section: the dashboards the user may view (name, tiles,
 * published version or draft state, owner when shared), a search box, and
 * per row Open (Lab tab), Open in a new browser tab, Publish, Share and a
 * menu with the rest (the same menu as right-clicking the row).
 */
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';

import type { IDashboard } from '../../api/dashboards';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';
import { emptyView, errorView } from '../../ui/status';
import { DashboardActions } from './actions';
import {
  actionsFor,
  filterDashboards,
  ownerText,
  publishState,
  publishStateText,
  tileCountText
} from './model';

const CSS = 'jp-AnalyticsDashboards';

/** The attribute rows carry, which the context menu's commands read. */
export const ROW_ID_ATTRIBUTE = 'data-dashboard-id';

/** The CSS selector of a row (for the context menu). */
export const ROW_SELECTOR = `.${CSS}-row`;

export class DashboardsSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({
      ctx,
      id: 'analytics-ext:dashboards',
      label: 'Dashboards',
      watches: ['dashboards', 'charts'],
      errorTitle: 'Could not load dashboards'
    });
    this.addClass(CSS);
    this.actions = new DashboardActions(ctx, {
      pending: (id, text) => this._setRowState(this._pending, id, text),
      failed: (id, message) => this._setRowState(this._errors, id, message)
    });
    this.addButton({
      icon: addIcon,
      tooltip: 'New dashboard',
      testId: 'dashboards-new',
      onClick: () => void this.create()
    });
    this.addButton({
      icon: refreshIcon,
      tooltip: 'Reload dashboards',
      testId: 'dashboards-refresh',
      onClick: () => void this.refresh()
    });

    this._search = h('input', {
      className: `${CSS}-search jp-mod-styled`,
      testId: 'dashboards-search',
      attrs: {
        type: 'search',
        placeholder: 'Search dashboards',
        'aria-label': 'Search dashboards'
      }
    });
    this._search.addEventListener('input', () => this._renderList());
    this._list = h('div', { className: `${CSS}-listHost` });
    this._content = h(
      'div',
      { className: `${CSS}-content` },
      this._search,
      this._list
    );
  }

  /** Publish, open, share and the rest; also used by the commands. */
  readonly actions: DashboardActions;

  /** Ask for a name and create a dashboard; the search is cleared so it shows. */
  async create(): Promise<IDashboard | null> {
    const created = await this.actions.create();
    if (created !== null && this._search.value !== '') {
      this._search.value = '';
      this._renderList();
    }
    return created;
  }

  /** The dashboards as last loaded. */
  get dashboards(): readonly IDashboard[] {
    return this._items;
  }

  /** A loaded dashboard by id. */
  find(id: string): IDashboard | undefined {
    return this._items.find(item => item.id === id);
  }

  protected async render(): Promise<Node> {
    const api = this.ctx.api;
    const [me, page] = await Promise.all([
      this._currentUserId === null
        ? api.getCurrentUser().then(user => user.id)
        : Promise.resolve(this._currentUserId),
      api.dashboards.list()
    ]);
    this._currentUserId = me;
    this._items = page.items;
    this._truncated = page.truncated;
    this._renderList();
    return this._content;
  }

  /** Re-draw the rows from the loaded list and the search text. */
  private _renderList(): void {
    const search = this._search.value;
    const shown = filterDashboards(this._items, search);
    const children: Node[] = [];
    if (this._items.length === 0) {
      children.push(
        emptyView(
          'No dashboards yet. Create one with +, or build one in a notebook ' +
            '(analytics_ext.client: create_dashboard).',
          'dashboards-empty'
        )
      );
    } else if (shown.length === 0) {
      children.push(
        emptyView(
          `No dashboard matches “${search.trim()}”.`,
          'dashboards-empty'
        )
      );
    } else {
      children.push(
        h(
          'ul',
          {
            className: `${CSS}-list`,
            testId: 'dashboards-list',
            attrs: { 'aria-label': 'Dashboards' }
          },
          ...shown.map(dashboard => this._row(dashboard))
        )
      );
    }
    if (this._truncated) {
      children.push(
        h('div', {
          className: `${CSS}-hint`,
          text: `Showing the first ${this._items.length} dashboards; search to narrow them down.`
        })
      );
    }
    this._list.replaceChildren(...children);
  }

  private _row(dashboard: IDashboard): HTMLElement {
    const allowed = actionsFor(dashboard);
    const pending = this._pending.get(dashboard.id) ?? null;
    const error = this._errors.get(dashboard.id) ?? null;
    const owner = ownerText(dashboard, this._currentUserId);
    const state = publishState(dashboard);

    const title = h('span', {
      className: `${CSS}-title`,
      testId: 'dashboard-title',
      text: dashboard.title,
      attrs: { title: dashboard.description || dashboard.title }
    });
    const meta = h(
      'div',
      { className: `${CSS}-meta` },
      h('span', {
        testId: 'dashboard-tiles',
        text: tileCountText(dashboard.tiles.length)
      }),
      h('span', {
        className: `${CSS}-state ${CSS}-state-${state}`,
        testId: 'dashboard-state',
        text: publishStateText(dashboard)
      })
    );
    if (owner !== null) {
      meta.append(
        h('span', {
          className: `${CSS}-owner`,
          testId: 'dashboard-owner',
          text: owner
        })
      );
    }

    const busy = pending !== null;
    const buttons = h(
      'div',
      {
        className: `${CSS}-actions`,
        attrs: { role: 'group', 'aria-label': `Actions for ${dashboard.title}` }
      },
      this._button(
        'Open',
        'dashboard-open',
        !allowed.open || busy,
        allowed.open
          ? 'Open the published dashboard in a JupyterLab tab'
          : 'Publish it first to open its view',
        () => this.actions.openInLab(dashboard)
      ),
      this._button(
        '↗',
        'dashboard-open-external',
        !allowed.open || busy,
        allowed.open
          ? 'Open the published dashboard in a new browser tab'
          : 'Publish it first to open its view',
        () => this.actions.openInBrowser(dashboard)
      ),
      this._button(
        state === 'draft' ? 'Publish' : 'Republish',
        'dashboard-publish',
        !allowed.publish || busy,
        allowed.publish
          ? 'Publish the current version for viewers'
          : 'You can view this dashboard but not publish it',
        () => void this.actions.publish(dashboard)
      ),
      this._button(
        'Share…',
        'dashboard-share',
        !allowed.share || busy,
        allowed.share
          ? 'Share with people or by link'
          : 'Only people who manage this dashboard can share it',
        () => void this.actions.share(dashboard)
      ),
      this._button(
        '⋯',
        'dashboard-more',
        false,
        'More actions',
        (event: MouseEvent) => {
          openRowMenu(event.currentTarget as HTMLElement);
        }
      )
    );
    const row = h(
      'li',
      {
        className: `${CSS}-row`,
        testId: 'dashboard-row',
        attrs: { [ROW_ID_ATTRIBUTE]: dashboard.id, 'aria-busy': String(busy) }
      },
      h('div', { className: `${CSS}-head` }, title),
      meta,
      buttons
    );
    if (pending !== null) {
      row.append(
        h(
          'div',
          {
            className: `${CSS}-pending`,
            testId: 'dashboard-row-status',
            attrs: { role: 'status' }
          },
          h('span', {
            className: 'jp-Analytics-spinner',
            attrs: { 'aria-hidden': 'true' }
          }),
          h('span', { text: pending })
        )
      );
    }
    if (error !== null) {
      row.append(errorView(error, 'That did not work'));
    }
    return row;
  }

  private _button(
    label: string,
    testId: string,
    disabled: boolean,
    tooltip: string,
    onClick: (event: MouseEvent) => void
  ): HTMLButtonElement {
    const button = h('button', {
      className: `${CSS}-button`,
      testId,
      text: label,
      attrs: { type: 'button', title: tooltip, 'aria-label': `${tooltip}` }
    });
    button.disabled = disabled;
    button.addEventListener('click', event => {
      event.stopPropagation();
      onClick(event);
    });
    return button;
  }

  private _setRowState(
    map: Map<string, string>,
    id: string,
    value: string | null
  ): void {
    if (value === null) {
      map.delete(id);
    } else {
      map.set(id, value);
    }
    if (this._items.some(item => item.id === id)) {
      this._renderList();
    }
  }

  private readonly _search: HTMLInputElement;
  private readonly _list: HTMLDivElement;
  private readonly _content: HTMLDivElement;
  private readonly _pending = new Map<string, string>();
  private readonly _errors = new Map<string, string>();
  private _items: IDashboard[] = [];
  private _truncated = false;
  private _currentUserId: string | null = null;
}

/**
 * Open the row's context menu from its ⋯ button, as a right-click there
 * would: JupyterLab opens it from the `contextmenu` event and remembers the
 * event for `contextMenuHitTest`, which the commands use to find the row.
 * Works from the keyboard too (the menu sits under the button).
 */
function openRowMenu(button: HTMLElement): void {
  const box = button.getBoundingClientRect();
  button.dispatchEvent(
    new MouseEvent('contextmenu', {
      bubbles: true,
      cancelable: true,
      clientX: box.left,
      clientY: box.bottom
    })
  );
}
