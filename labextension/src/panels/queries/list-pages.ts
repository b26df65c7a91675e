/**
 * Fetching the pages of the Queries section's four lists. Each tab reads a
 * different route, and Favorites has no paged route of its own (the section
 * pages through the favorite ids, fetching each saved query), so the section
 * only asks for "the first page of this tab" or "the next one" and the
 * per-tab differences stay here, apart from the DOM.
 */
import { AnalyticsAPIError } from '../../api';
import type {
  IFavorite,
  IHistoryItem,
  IPage,
  IQueryTemplate,
  ISavedQuery,
  QueriesAPI
} from '../../api/queries';
import {
  type IListFilter,
  type QueriesTab,
  PAGE_SIZE,
  PagedList,
  historyRequest,
  queryFavorites,
  savedRequest,
  templatesRequest
} from './model';

/** A row of any tab: a saved query (Saved, Favorites), a template or a run. */
export type QueriesRow = ISavedQuery | IQueryTemplate | IHistoryItem;

/** The rows a tab shows; which kind they are follows from the tab. */
export type QueriesList = PagedList<QueriesRow>;

export interface IFirstPage {
  list: QueriesList;
  /** On the Favorites tab: every favorite query id, the "cursor space" of its pages. */
  favoriteIds?: string[];
}

/** The first page of `tab` under `filter`; Favorites pages through `favorites`. */
export async function loadFirstPage(
  api: QueriesAPI,
  tab: QueriesTab,
  filter: IListFilter,
  favorites: IFavorite[]
): Promise<IFirstPage> {
  const favoriteIds =
    tab === 'favorites'
      ? queryFavorites(favorites).map(favorite => favorite.object_id)
      : undefined;
  const list: QueriesList = new PagedList<QueriesRow>();
  list.reset(await fetchPage(api, tab, filter, null, favoriteIds ?? []));
  return { list, favoriteIds };
}

/** Append the page at `cursor` to `list`, which holds the rows of `tab`. */
export async function appendNextPage(
  api: QueriesAPI,
  tab: QueriesTab,
  list: QueriesList,
  filter: IListFilter,
  cursor: string,
  favoriteIds: readonly string[]
): Promise<void> {
  list.append(await fetchPage(api, tab, filter, cursor, favoriteIds));
}

/** The page of `tab` at `cursor` (null: the first). */
function fetchPage(
  api: QueriesAPI,
  tab: QueriesTab,
  filter: IListFilter,
  cursor: string | null,
  favoriteIds: readonly string[]
): Promise<IPage<QueriesRow>> {
  switch (tab) {
    case 'saved':
      return api.list(savedRequest(filter, cursor));
    case 'favorites':
      return favoritePage(
        api,
        favoriteIds,
        cursor === null ? 0 : Number(cursor)
      );
    case 'templates':
      return api.templates(templatesRequest(filter, cursor));
    case 'history':
      return api.history(historyRequest(filter, cursor));
  }
}

/** Saved queries of favorites `ids[offset, offset + PAGE_SIZE)`; a synthetic cursor pages on. */
async function favoritePage(
  api: QueriesAPI,
  ids: readonly string[],
  offset: number
): Promise<IPage<ISavedQuery>> {
  const slice = ids.slice(offset, offset + PAGE_SIZE);
  const found = await Promise.all(
    slice.map(id =>
      api.getQuery(id).catch(error => {
        // Gone or no longer visible since the favorites were listed: skip it.
        if (error instanceof AnalyticsAPIError && error.status === 404) {
          return null;
        }
        throw error;
      })
    )
  );
  const end = offset + slice.length;
  return {
    items: found.filter((query): query is ISavedQuery => query !== null),
    next: end < ids.length ? String(end) : null,
    total: ids.length
  };
}
