/**
 * The Charts section: the saved charts the user may view, each with a
 * server-rendered thumbnail (loaded as it scrolls into view), a search over
 * the loaded charts, "Load more" over the server's pages, and per-chart
 * actions (open in a notebook, export, share, rename, delete). The actions
 * themselves are commands (`commands.ts`), so buttons, context menu and
 * palette do the same thing.
 */
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';

import { errorMessage } from '../../api';
import type { IChart, IChartPage } from '../../api/charts';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';
import { emptyView, errorView } from '../../ui/status';
import {
  PAGE_SIZE,
  THUMBNAIL_BOX,
  countLabel,
  filterCharts,
  thumbnailRequestSize
} from './model';
import { LazyThumbnails, ThumbnailStore } from './thumbnails';
import { CSS, type IRowActions, chartRow } from './views';

/** The largest page `GET /api/chart` serves. */
const MAX_PAGE = 200;

export class ChartsSection extends AnalyticsSectionWidget {
  constructor(
    ctx: IAnalyticsContext,
    actions: (section: ChartsSection) => IRowActions
  ) {
    super({
      ctx,
      id: 'analytics-ext:charts',
      label: 'Charts',
      watches: ['charts', 'queries']
    });
    this.addClass(CSS);
    this.thumbnails = new ThumbnailStore((id, size, revalidate) =>
      ctx.api.charts.thumbnail(id, size, revalidate)
    );
    this._actions = actions(this);
    this.search = h('input', {
      className: `${CSS}-search jp-mod-styled`,
      testId: 'charts-search',
      attrs: {
        type: 'search',
        placeholder: 'Search charts',
        'aria-label': 'Search charts by name, type or query'
      }
    });
    this.search.addEventListener('input', () => this._showList());
    // Outside the body, which each refresh replaces: the search keeps its text and focus.
    this.node.insertBefore(
      h('div', { className: `${CSS}-searchBar` }, this.search),
      this.body
    );
    this.addButton({
      icon: refreshIcon,
      tooltip: 'Refresh charts and thumbnails',
      testId: 'charts-refresh',
      onClick: () => void this.reload(true)
    });
    this.addButton({
      icon: addIcon,
      tooltip: 'Apply a chart template…',
      testId: 'charts-apply-template',
      onClick: () => {
        void ctx.app.commands.execute('analytics-ext:apply-chart-template');
      }
    });
    this._list = h('ul', {
      className: `${CSS}-list`,
      testId: 'charts-list',
      attrs: { 'aria-label': 'Saved charts' }
    });
    this._list.addEventListener('contextmenu', event => {
      this.contextChart = this._chartAt(event.target);
    });
    this._list.addEventListener('keydown', event => this._onKeydown(event));
  }

  /** The chart whose row was right-clicked last (the context menu's commands act on it). */
  contextChart: IChart | null = null;

  /** Object URLs of the thumbnails (revoked when replaced and on dispose). */
  readonly thumbnails: ThumbnailStore;

  readonly search: HTMLInputElement;

  /** A loaded chart by id. */
  chart(id: string): IChart | null {
    return this._charts.find(chart => chart.id === id) ?? null;
  }

  /**
   * Reload the list; `revalidateThumbnails` also asks the server again for
   * every thumbnail (the charts' data may have changed though they did not).
   */
  async reload(revalidateThumbnails = false): Promise<void> {
    if (revalidateThumbnails) {
      this.thumbnails.invalidate();
    }
    await this.refresh();
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._lazy?.disconnect();
    this.thumbnails.dispose();
    super.dispose();
  }

  protected async render(): Promise<Node> {
    // As many charts as were loaded before (a refresh keeps "Load more" progress).
    const wanted = Math.max(PAGE_SIZE, this._charts.length);
    const charts: IChart[] = [];
    let page: IChartPage<IChart> = await this.ctx.api.charts.list({
      limit: Math.min(wanted, MAX_PAGE)
    });
    charts.push(...page.items);
    while (charts.length < wanted && page.next !== null) {
      page = await this.ctx.api.charts.list({
        limit: Math.min(wanted - charts.length, MAX_PAGE),
        cursor: page.next
      });
      charts.push(...page.items);
    }
    await this._loadQueryNames(charts, true);
    this._charts = charts;
    this._next = page.next;
    this._total = page.total;
    this.thumbnails.retain(charts.map(chart => chart.id));
    const content = h('div', { className: `${CSS}-content` });
    this._content = content;
    this._showList();
    return content;
  }

  /** Fill the content with the rows matching the search (no fetch). */
  private _showList(): void {
    const content = this._content;
    if (content === null) {
      return;
    }
    this._lazy?.disconnect();
    this._lazy = new LazyThumbnails(
      this.thumbnails,
      thumbnailRequestSize(THUMBNAIL_BOX, window.devicePixelRatio),
      null
    );
    if (this._total === 0) {
      content.replaceChildren(
        emptyView(
          'No saved charts yet. Build one in a notebook (widgets.chart) or apply a chart template.',
          'charts-empty'
        )
      );
      return;
    }
    const shown = filterCharts(
      this._charts,
      this.search.value,
      this._queryNames
    );
    const rows = shown.map(chart => {
      const row = chartRow(chart, this._queryNames, this._actions);
      const cell = row.querySelector<HTMLElement>(
        '[data-testid="chart-thumbnail"]'
      );
      if (cell !== null) {
        this._lazy?.observe(cell, chart);
      }
      return row;
    });
    this._list.replaceChildren(...rows);
    const footer = h('div', { className: `${CSS}-footer` });
    footer.append(
      h('span', {
        className: `${CSS}-count`,
        testId: 'charts-count',
        text: countLabel(shown.length, this._charts.length, this._total)
      })
    );
    if (shown.length === 0) {
      footer.prepend(
        emptyView('No loaded chart matches the search.', 'charts-no-match')
      );
    }
    if (this._next !== null) {
      const more = h('button', {
        className: `${CSS}-more jp-Button jp-mod-styled jp-mod-reject`,
        testId: 'charts-load-more',
        text: 'Load more',
        attrs: { type: 'button' }
      });
      more.addEventListener('click', () => void this._loadMore(more, footer));
      footer.append(more);
    }
    content.replaceChildren(this._list, footer);
  }

  private async _loadMore(
    button: HTMLButtonElement,
    footer: HTMLElement
  ): Promise<void> {
    if (this._next === null) {
      return;
    }
    button.disabled = true;
    button.textContent = 'Loading…';
    footer.querySelector('[role="alert"]')?.remove();
    try {
      const page = await this.ctx.api.charts.list({
        limit: PAGE_SIZE,
        cursor: this._next
      });
      await this._loadQueryNames(page.items, false);
      const known = new Set(this._charts.map(chart => chart.id));
      this._charts.push(...page.items.filter(chart => !known.has(chart.id)));
      this._next = page.next;
      this._total = page.total;
      this._showList();
    } catch (error) {
      button.disabled = false;
      button.textContent = 'Load more';
      footer.append(
        errorView(errorMessage(error), 'Could not load more charts')
      );
    }
  }

  /** Names of the charts' queries; a query the user may not view is `null`. */
  private async _loadQueryNames(
    charts: IChart[],
    again: boolean
  ): Promise<void> {
    const ids = [...new Set(charts.map(chart => chart.query_id))].filter(
      id => again || !this._queryNames.has(id)
    );
    const names = await Promise.all(
      ids.map(id =>
        this.ctx.api.charts.queryRef(id).then(
          query => query.name,
          () => null
        )
      )
    );
    ids.forEach((id, index) => this._queryNames.set(id, names[index]));
  }

  private _chartAt(target: EventTarget | null): IChart | null {
    const row = (target as Element | null)?.closest?.('[data-chart-id]');
    const id = row?.getAttribute('data-chart-id');
    return id ? this.chart(id) : null;
  }

  /** Enter opens the focused row's chart in a notebook; Delete deletes it; arrows move. */
  private _onKeydown(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    if (!target.matches('li[data-chart-id]')) {
      return;
    }
    const chart = this._chartAt(target);
    if (chart === null) {
      return;
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      this._actions.open(chart);
    } else if (event.key === 'Delete') {
      event.preventDefault();
      this._actions.remove(chart);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next =
        event.key === 'ArrowDown'
          ? target.nextElementSibling
          : target.previousElementSibling;
      (next as HTMLElement | null)?.focus();
    } else if (
      event.key === 'ContextMenu' ||
      (event.shiftKey && event.key === 'F10')
    ) {
      this.contextChart = chart;
    }
  }

  private readonly _actions: IRowActions;
  private readonly _list: HTMLUListElement;
  private _content: HTMLElement | null = null;
  private _lazy: LazyThumbnails | null = null;
  private _charts: IChart[] = [];
  private _next: string | null = null;
  private _total = 0;
  private readonly _queryNames = new Map<string, string | null>();
}
