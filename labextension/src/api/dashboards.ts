/**
 * `dashboards` routes of the analytics REST API and the shapes they answer
 * with (`analytics_ext/schemas/dashboards.py`, `openapi/dashboards.yaml`).
 */
import { AreaAPI, type Query } from './base';
import { type IDownload, requestAPI, requestBlob, withQuery } from './request';

/** A caller's level on a dashboard, weakest first. */
export type DashboardLevel = 'view' | 'edit' | 'manage';

/** Where one tile sits on the 12-column grid. */
export interface IDashboardLayoutItem {
  tile: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One tile; the fields besides `id`, `type` and `title` depend on `type`. */
export interface IDashboardTile {
  id: string;
  type: 'query' | 'chart' | 'markdown' | 'filter';
  title?: string;
  query_id?: string;
  chart_id?: string;
  text?: string;
  [field: string]: unknown;
}

/** `DashboardOut`: a dashboard as the caller may see it. */
export interface IDashboard {
  id: string;
  title: string;
  description: string;
  tiles: IDashboardTile[];
  layout: IDashboardLayoutItem[];
  refresh_seconds: number | null;
  tags: string[];
  owner_id: string | null;
  /** The owner's username, if the server sends it. */
  owner_name?: string | null;
  /** The current saved version (every change appends one). */
  version: number;
  /** The caller's level on it. */
  permission: DashboardLevel;
  /** The version viewers see; null while it was never published. */
  published_version: number | null;
  published_at: string | null;
  /** Where viewers open it (absolute, from the server's public URL); null until published. */
  viewer_url: string | null;
  created_at: string;
  updated_at: string;
}

export interface IDashboardPage {
  items: IDashboard[];
  /** Cursor of the next page; null on the last one. */
  next: string | null;
}

/** `GET api/dashboards` filters. */
export interface IDashboardListQuery {
  q?: string;
  tag?: string;
  owner?: 'me' | 'shared';
  limit?: number;
  cursor?: string;
}

/** `POST api/dashboards`: tiles and layout may be empty (a board to fill later). */
export interface IDashboardCreate {
  title: string;
  description?: string;
  tiles?: IDashboardTile[];
  layout?: IDashboardLayoutItem[];
  refresh_seconds?: number | null;
  tags?: string[];
}

/** `PATCH api/dashboards/<id>`: the fields to change (tiles and layout together). */
export interface IDashboardPatch {
  title?: string;
  description?: string;
  tiles?: IDashboardTile[];
  layout?: IDashboardLayoutItem[];
  refresh_seconds?: number | null;
  tags?: string[];
  /** The version the change was made on: 409 if someone saved since. */
  base_version?: number;
}

/** `PublishOut`: what publishing wrote and where viewers open it. */
export interface IPublishResult {
  dashboard_id: string;
  /** The saved version viewers now see. */
  version: number;
  /** The published notebook's file name. */
  notebook: string;
  viewer_url: string;
  published_at: string;
}

/** Static export formats of `GET api/dashboards/<id>/export`. */
export type DashboardExportFormat = 'html' | 'pdf';

/** The most dashboards the list fetches (pages of 200). */
export const MAX_LISTED_DASHBOARDS = 2000;

const PAGE_SIZE = 200;

function item(id: string, rest = ''): string {
  return `api/dashboards/${encodeURIComponent(id)}${rest}`;
}

export class DashboardsAPI extends AreaAPI {
  /**
   * A GET that is never answered from the browser's cache, without the
   * cache-busting `?<timestamp>` parameter `ServerConnection` appends for its
   * default `cache: 'no-store'`: the server validates query strings strictly
   * and refuses that unknown parameter (422).
   */
  private _fresh<T>(path: string, query: Query = {}): Promise<T> {
    return requestAPI<T>(
      withQuery(path, query),
      { cache: 'no-cache' },
      this.settings
    );
  }

  /** One page of the dashboards the caller may view, oldest first. */
  page(query: IDashboardListQuery = {}): Promise<IDashboardPage> {
    return this._fresh<IDashboardPage>('api/dashboards', { ...query });
  }

  /**
   * Every dashboard the caller may view (following `next`), up to
   * `MAX_LISTED_DASHBOARDS`; `truncated` says more exist.
   */
  async list(
    query: Omit<IDashboardListQuery, 'cursor' | 'limit'> = {}
  ): Promise<{ items: IDashboard[]; truncated: boolean }> {
    const items: IDashboard[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.page({ ...query, limit: PAGE_SIZE, cursor });
      items.push(...page.items);
      if (page.next === null) {
        return { items, truncated: false };
      }
      if (items.length >= MAX_LISTED_DASHBOARDS) {
        return { items, truncated: true };
      }
      cursor = page.next;
    }
  }

  getDashboard(id: string): Promise<IDashboard> {
    return this._fresh<IDashboard>(item(id));
  }

  create(body: IDashboardCreate): Promise<IDashboard> {
    return this.post<IDashboard>('api/dashboards', body);
  }

  update(id: string, patch: IDashboardPatch): Promise<IDashboard> {
    return this.patch<IDashboard>(item(id), patch);
  }

  remove(id: string): Promise<void> {
    return this.delete(item(id));
  }

  /** Publish the current saved version for viewers (needs `edit`). */
  publish(id: string): Promise<IPublishResult> {
    return this.post<IPublishResult>(item(id, '/publish'));
  }

  /** Take the dashboard away from viewers (its notebook is removed). */
  unpublish(id: string): Promise<void> {
    return this.delete(item(id, '/publish'));
  }

  /** A static, self-contained file of the dashboard (server-rendered). */
  exportFile(id: string, format: DashboardExportFormat): Promise<IDownload> {
    return requestBlob(
      withQuery(item(id, '/export'), { format }),
      { cache: 'no-cache' },
      this.settings,
      `dashboard.${format}`
    );
  }
}
