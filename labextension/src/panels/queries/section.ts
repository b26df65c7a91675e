/**
 * The Queries section of the Analytics sidebar: Saved, Favorites, Templates
 * and History tabs over the query library routes, with search, tag and
 * datasource filters (applied by the server where its routes take them),
 * "Load more" paging on the server's cursor, stars whose state is the
 * server's favorites list, and the row actions.
 *
 * This class only ties the parts together and keeps what one load learned
 * (the list, the datasources, the favorites, the saved queries seen): the
 * header (tabs, filters, notice, form slot) is `list-header.ts`, fetching the
 * pages `list-pages.ts`, drawing them `list-view.ts`, and the actions on
 * saved queries and templates `query-actions.ts` and `template-actions.ts`,
 * which reach back here through the `IQueriesHost` this class lends them.
 */
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';
import { AccordionPanel } from '@lumino/widgets';

import { errorMessage } from '../../api';
import type { IDatasourceChoice, ISavedQuery } from '../../api/queries';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';
import type { IQueriesHost } from './action-host';
import { FavoriteState } from './favorites';
import { QueriesListHeader } from './list-header';
import { type QueriesList, appendNextPage, loadFirstPage } from './list-pages';
import { type IListViewHandlers, listViewParts } from './list-view';
import type { QueriesTab } from './model';
import { QueryActions } from './query-actions';
import { exportMenu, moreMenu, openMenu } from './row-menus';
import { TemplateActions } from './template-actions';
import { CSS } from './views';

export class QueriesSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({
      ctx,
      id: 'analytics-ext:queries',
      label: 'Queries',
      watches: ['queries', 'datasources'],
      errorTitle: 'Could not load queries'
    });
    this.addClass(CSS);
    this._header = new QueriesListHeader(() => void this.refresh());
    this.node.insertBefore(this._header.node, this.body);
    const host = this._host();
    this.queryActions = new QueryActions(host);
    this.templateActions = new TemplateActions(host);
    this._handlers = this._listHandlers();
    this.addButton({
      icon: addIcon,
      tooltip: 'New query',
      testId: 'queries-new',
      onClick: () => this.queryActions.showNewQueryForm()
    });
    this.addButton({
      icon: refreshIcon,
      tooltip: 'Refresh queries',
      testId: 'queries-refresh',
      onClick: () => void this.refresh()
    });
  }

  /** Open, star, share, export, save as template, rename, delete a saved query; New query. */
  readonly queryActions: QueryActions;
  /** Use, edit, delete, share a template. */
  readonly templateActions: TemplateActions;

  /** A loaded saved query by id (rows of any tab). */
  queryById(id: string): ISavedQuery | null {
    return this._known.get(id) ?? null;
  }

  /** Whether the server lists `id` among the user's favorites. */
  isFavorite(id: string): boolean {
    return this._favorites.isFavorite(id);
  }

  /** Show this section (expanded) in the sidebar. */
  reveal(): void {
    const parent = this.parent;
    if (parent instanceof AccordionPanel) {
      const index = parent.widgets.indexOf(this);
      if (index >= 0) {
        parent.expand(index); // does nothing when it is expanded already
      }
    }
  }

  // -- loading ---------------------------------------------------------------------------------

  protected async render(): Promise<Node> {
    const generation = ++this._generation;
    const tab = this._header.tab;
    const filter = { ...this._header.filter };
    const api = this.ctx.api.queries;
    const [datasources, favorites] = await Promise.all([
      api.datasourceChoices(),
      api.allFavorites()
    ]);
    const first = await loadFirstPage(api, tab, filter, favorites);
    if (first.favoriteIds) {
      this._favoriteIds = first.favoriteIds;
    }
    if (generation !== this._generation) {
      return h('div'); // a newer load replaces this one
    }
    this._setDatasources(datasources);
    this._favorites.reset(favorites);
    this._list = first.list;
    this._listTab = tab;
    this._updateFilterOptions();
    this._content = h('div', {
      className: `${CSS}-content`,
      testId: `queries-list-${tab}`
    });
    this._renderList();
    return this._content;
  }

  private async _loadMore(button: HTMLButtonElement): Promise<void> {
    const list = this._list;
    const cursor = list?.next;
    if (!list || !cursor) {
      return;
    }
    const generation = this._generation;
    button.disabled = true;
    button.textContent = 'Loading…';
    try {
      await appendNextPage(
        this.ctx.api.queries,
        this._listTab,
        list,
        this._header.filter,
        cursor,
        this._favoriteIds
      );
      if (generation === this._generation) {
        this._updateFilterOptions();
        this._renderList();
      }
    } catch (error) {
      button.disabled = false;
      button.textContent = 'Load more';
      this._header.notice(errorMessage(error), true);
    }
  }

  private _renderList(): void {
    const content = this._content;
    const list = this._list;
    if (!content || !list) {
      return;
    }
    if (this._listTab === 'saved' || this._listTab === 'favorites') {
      for (const query of list.items as readonly ISavedQuery[]) {
        this._known.set(query.id, query);
      }
    }
    content.replaceChildren(
      ...listViewParts(
        {
          tab: this._listTab,
          list,
          filter: this._header.filter,
          favorites: this._favorites,
          datasourceById: this._datasourceById
        },
        this._handlers
      )
    );
  }

  private _updateFilterOptions(): void {
    const rows =
      this._listTab === 'history' || !this._list
        ? []
        : (this._list.items as readonly { tags: string[] }[]);
    this._header.updateFilterOptions(
      this._listTab,
      rows,
      this._datasources,
      this._datasourceById
    );
  }

  private _setDatasources(datasources: IDatasourceChoice[]): void {
    this._datasources = datasources;
    this._datasourceById = new Map(datasources.map(d => [d.id, d]));
  }

  // -- what the rows and the actions are given -------------------------------------------------

  private _listHandlers(): IListViewHandlers {
    const queries = this.queryActions;
    const templates = this.templateActions;
    const commands = this.ctx.app.commands;
    return {
      query: {
        toggleFavorite: q => void queries.toggleFavorite(q),
        open: q => void queries.openInNotebook(q),
        exportMenu: (q, anchor) => openMenu(exportMenu(commands, q.id), anchor),
        share: q => void queries.share(q),
        moreMenu: (q, anchor) =>
          openMenu(
            moreMenu(commands, q.id, this.queryById(q.id)?.name ?? ''),
            anchor
          ),
        filterTag: tag => this._header.filterByTag(tag)
      },
      template: {
        use: t => templates.use(t),
        edit: t => templates.edit(t),
        remove: t => void templates.remove(t),
        share: t => void templates.share(t)
      },
      history: {
        open: run => void queries.openRun(run),
        save: run =>
          queries.showNewQueryForm(
            { sql: run.sql, datasource_id: run.datasource_id ?? undefined },
            'Save run as query'
          )
      },
      loadMore: button => void this._loadMore(button)
    };
  }

  private _host(): IQueriesHost {
    const header = this._header;
    return {
      ctx: this.ctx,
      known: this._known,
      favorites: this._favorites,
      reveal: () => this.reveal(),
      notice: (text, error) => header.notice(text, error),
      openForm: build => {
        this.reveal();
        header.openForm(build(() => header.closeForm()).node);
      },
      selectTab: (tab, reload) => header.selectTab(tab, reload),
      rowOf: (kind, id) => this._rowOf(kind, id),
      withDatasources: () => this._withDatasources(),
      changed: id => this.ctx.notifyChanged({ area: 'queries', id })
    };
  }

  private _rowOf(kind: 'query' | 'template', id: string): HTMLElement | null {
    const attribute = kind === 'query' ? 'data-query-id' : 'data-template-id';
    const key = kind === 'query' ? 'queryId' : 'templateId';
    return (
      [...this.node.querySelectorAll<HTMLElement>(`[${attribute}]`)].find(
        row => row.dataset[key] === id
      ) ?? null
    );
  }

  /** The datasources for a form: those of the last load, else fetched now. */
  private async _withDatasources(): Promise<IDatasourceChoice[]> {
    if (this._datasources.length === 0) {
      try {
        this._setDatasources(await this.ctx.api.queries.datasourceChoices());
      } catch (error) {
        this._header.notice(errorMessage(error), true);
      }
    }
    return this._datasources;
  }

  private readonly _header: QueriesListHeader;
  private readonly _handlers: IListViewHandlers;
  private _listTab: QueriesTab = 'saved';
  private _generation = 0;
  private _list: QueriesList | null = null;
  private _favoriteIds: string[] = [];
  private readonly _favorites = new FavoriteState();
  private readonly _known = new Map<string, ISavedQuery>();
  private _datasources: IDatasourceChoice[] = [];
  private _datasourceById: ReadonlyMap<string, IDatasourceChoice> = new Map();
  private _content: HTMLElement | null = null;
}
