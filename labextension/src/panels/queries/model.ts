/**
 * The state behind the Queries section, without DOM or network: which tab is
 * open, the search/tag/datasource filter, the server request a state asks
 * for, and the pages loaded so far ("Load more" appends the next one).
 */
import type {
  IFavorite,
  IHistoryQuery,
  IPage,
  ISavedQuery,
  ISavedQueryListQuery,
  ITemplateListQuery
} from '../../api/queries';

export type QueriesTab = 'saved' | 'favorites' | 'templates' | 'history';

export const TABS: { id: QueriesTab; label: string }[] = [
  { id: 'saved', label: 'Saved' },
  { id: 'favorites', label: 'Favorites' },
  { id: 'templates', label: 'Templates' },
  { id: 'history', label: 'History' }
];

/** Rows per page of every list. */
export const PAGE_SIZE = 50;

export interface IListFilter {
  /** Search text (name contains it); blank means none. */
  q: string;
  tag: string | null;
  datasourceId: string | null;
}

export const NO_FILTER: IListFilter = { q: '', tag: null, datasourceId: null };

/** Which filters a tab offers: only those its server route (or the panel) applies. */
export function filtersOf(tab: QueriesTab): {
  search: boolean;
  tag: boolean;
  datasource: boolean;
} {
  switch (tab) {
    case 'saved':
      return { search: true, tag: true, datasource: true };
    case 'favorites':
      // Favorites have no server-side filter; the panel filters the loaded ones.
      return { search: true, tag: true, datasource: true };
    case 'templates':
      return { search: true, tag: true, datasource: false };
    case 'history':
      return { search: false, tag: false, datasource: true };
  }
}

/** `GET /api/query` parameters of a filter and a cursor. */
export function savedRequest(
  filter: IListFilter,
  cursor: string | null = null,
  limit = PAGE_SIZE
): ISavedQueryListQuery {
  const q = filter.q.trim();
  return {
    limit,
    cursor,
    q: q.length > 0 ? q.slice(0, 200) : null,
    tag: filter.tag,
    datasource_id: filter.datasourceId
  };
}

/** `GET /api/query/templates` parameters (templates have no datasource). */
export function templatesRequest(
  filter: IListFilter,
  cursor: string | null = null,
  limit = PAGE_SIZE
): ITemplateListQuery {
  const q = filter.q.trim();
  return {
    limit,
    cursor,
    q: q.length > 0 ? q.slice(0, 200) : null,
    tag: filter.tag
  };
}

/** `GET /api/query/history` parameters (the server filters by datasource only). */
export function historyRequest(
  filter: IListFilter,
  cursor: string | null = null,
  limit = PAGE_SIZE
): IHistoryQuery {
  return { limit, cursor, datasource_id: filter.datasourceId };
}

/**
 * Whether a saved query passes `filter` as the server would apply it (name
 * contains the text in any case, exact tag, datasource): used for favorites,
 * whose route does not filter.
 */
export function matchesFilter(
  query: ISavedQuery,
  filter: IListFilter
): boolean {
  const q = filter.q.trim().toLowerCase();
  if (q && !query.name.toLowerCase().includes(q)) {
    return false;
  }
  if (filter.tag !== null && !query.tags.includes(filter.tag)) {
    return false;
  }
  if (
    filter.datasourceId !== null &&
    query.datasource_id !== filter.datasourceId
  ) {
    return false;
  }
  return true;
}

/** The favorites that are saved queries (the list holds charts too), in order. */
export function queryFavorites(favorites: IFavorite[]): IFavorite[] {
  return favorites
    .filter(favorite => favorite.object_type === 'query')
    .sort((a, b) => a.position - b.position);
}

/**
 * The rows of one list as loaded so far. `reset` starts over with a first
 * page; `append` adds the next one, skipping ids already shown (a row that
 * moved between pages while the user read them appears once).
 */
export class PagedList<T extends { id: string }> {
  get items(): readonly T[] {
    return this._items;
  }

  /** Cursor of the next page, or null when everything is loaded. */
  get next(): string | null {
    return this._next;
  }

  get total(): number | null {
    return this._total;
  }

  get hasMore(): boolean {
    return this._next !== null;
  }

  reset(page: IPage<T>): void {
    this._items = [];
    this._ids.clear();
    this._total = null;
    this.append(page);
  }

  append(page: IPage<T>): void {
    for (const item of page.items) {
      if (!this._ids.has(item.id)) {
        this._ids.add(item.id);
        this._items.push(item);
      }
    }
    this._next = page.next;
    if (page.total !== undefined) {
      this._total = page.total;
    }
  }

  /** Replace one row (after a rename) or drop it (`null`, after a delete). */
  update(id: string, item: T | null): void {
    const index = this._items.findIndex(row => row.id === id);
    if (index < 0) {
      return;
    }
    if (item === null) {
      this._items.splice(index, 1);
      this._ids.delete(id);
      if (this._total !== null) {
        this._total = Math.max(0, this._total - 1);
      }
    } else {
      this._items[index] = item;
    }
  }

  private _items: T[] = [];
  private readonly _ids = new Set<string>();
  private _next: string | null = null;
  private _total: number | null = null;
}

/**
 * Tags to offer in the tag filter: every tag seen so far plus the selected
 * one (so it stays selectable when the list is empty), sorted, each once.
 */
export function knownTags(
  seen: Iterable<string>,
  rows: readonly { tags: string[] }[],
  selected: string | null
): string[] {
  const tags = new Set(seen);
  for (const row of rows) {
    for (const tag of row.tags) {
      tags.add(tag);
    }
  }
  if (selected !== null) {
    tags.add(selected);
  }
  return [...tags].sort((a, b) => a.localeCompare(b));
}

/** `a, b, c` parsed into the server's tags: trimmed, non-empty, each once. */
export function parseTags(text: string): string[] {
  const tags = text
    .split(',')
    .map(tag => tag.trim())
    .filter(tag => tag.length > 0);
  return [...new Set(tags)];
}

/** The first line of `sql`, squeezed, cut at `max` characters: a history row's title. */
export function sqlSnippet(sql: string, max = 80): string {
  const text = sql.replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `0.42 s`, `12.3 s`, `2 min 5 s`: a run's duration. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) {
    return '—';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(2)} s`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** `just now`, `5 min ago`, `3 h ago`, else the date: when a run happened. */
export function formatWhen(iso: string, now: Date = new Date()): string {
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) {
    return iso;
  }
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 45) {
    return 'just now';
  }
  if (seconds < 3600) {
    return `${Math.max(1, Math.round(seconds / 60))} min ago`;
  }
  if (seconds < 86400) {
    return `${Math.round(seconds / 3600)} h ago`;
  }
  return then.toISOString().slice(0, 10);
}
