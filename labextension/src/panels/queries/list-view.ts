/**
 * The list under the Queries section's header, drawn from the loaded pages:
 * the rows of the tab (saved queries, templates or history runs), the empty
 * text that says why nothing shows (no rows yet, or the filter), "n of
 * total", and "Load more" while the server has more. Built from state and
 * handlers only, so it redraws the same way after a load, a "Load more" or a
 * star toggle.
 */
import type {
  IDatasourceChoice,
  IHistoryItem,
  IQueryTemplate,
  ISavedQuery
} from '../../api/queries';
import { h } from '../../ui/dom';
import { emptyView } from '../../ui/status';
import type { FavoriteState } from './favorites';
import type { QueriesList } from './list-pages';
import {
  type IListFilter,
  type QueriesTab,
  TABS,
  matchesFilter
} from './model';
import {
  CSS,
  type IHistoryRowHandlers,
  type IQueryRowHandlers,
  type ITemplateRowHandlers,
  historyRow,
  loadMoreButton,
  queryRow,
  templateRow
} from './views';

export interface IListViewState {
  /** The tab whose rows `list` holds. */
  tab: QueriesTab;
  list: QueriesList;
  filter: IListFilter;
  favorites: FavoriteState;
  datasourceById: ReadonlyMap<string, IDatasourceChoice>;
}

export interface IListViewHandlers {
  query: IQueryRowHandlers;
  template: ITemplateRowHandlers;
  history: IHistoryRowHandlers;
  loadMore(button: HTMLButtonElement): void;
}

/** The list's nodes, to put in the section's content box. */
export function listViewParts(
  state: IListViewState,
  handlers: IListViewHandlers
): Node[] {
  const { tab, list, filter } = state;
  const ul = h('ul', {
    className: `${CSS}-list`,
    attrs: { 'aria-label': tabLabel(tab) }
  });
  let shown = 0;
  switch (tab) {
    case 'saved':
    case 'favorites':
      for (const query of list.items as readonly ISavedQuery[]) {
        // The server filters Saved; Favorites are filtered here.
        if (tab === 'favorites' && !matchesFilter(query, filter)) {
          continue;
        }
        ul.append(savedQueryRow(query, state, handlers.query));
        shown++;
      }
      break;
    case 'templates':
      for (const template of list.items as readonly IQueryTemplate[]) {
        ul.append(templateRow(template, handlers.template));
        shown++;
      }
      break;
    case 'history':
      for (const item of list.items as readonly IHistoryItem[]) {
        ul.append(historyRow(item, state.datasourceById, handlers.history));
        shown++;
      }
      break;
  }
  const parts: Node[] = [];
  if (shown === 0) {
    parts.push(emptyView(emptyText(tab, filter), 'queries-empty'));
  } else {
    parts.push(ul);
  }
  const total = list.total;
  if (total !== null && tab !== 'history') {
    parts.push(
      h('div', {
        className: `${CSS}-count`,
        testId: 'queries-count',
        text: `${list.items.length} of ${total}`
      })
    );
  }
  if (list.hasMore) {
    parts.push(loadMoreButton(handlers.loadMore));
  }
  return parts;
}

function savedQueryRow(
  query: ISavedQuery,
  state: IListViewState,
  handlers: IQueryRowHandlers
): HTMLLIElement {
  const datasource = query.datasource_id
    ? state.datasourceById.get(query.datasource_id)
    : null;
  return queryRow(
    query,
    {
      favorite: state.favorites.isFavorite(query.id),
      favoritePending: state.favorites.isPending(query.id),
      datasourceName: datasource?.name ?? null
    },
    handlers
  );
}

function emptyText(tab: QueriesTab, filter: IListFilter): string {
  const filtered =
    filter.q.trim() !== '' ||
    filter.tag !== null ||
    filter.datasourceId !== null;
  if (filtered && tab !== 'history') {
    return 'Nothing matches the filter.';
  }
  switch (tab) {
    case 'saved':
      return 'No saved queries yet. Use “New query” to save one.';
    case 'favorites':
      return 'No favorites yet. Star a saved query to keep it here.';
    case 'templates':
      return 'No query templates.';
    case 'history':
      return filtered ? 'No runs on this datasource.' : 'No query runs yet.';
  }
}

function tabLabel(tab: QueriesTab): string {
  return TABS.find(t => t.id === tab)?.label ?? 'Queries';
}
