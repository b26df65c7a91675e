/**
 * `charts` routes of the analytics REST API and the shapes they answer with:
 * saved charts (`/api/chart`), their thumbnails and exports, chart templates
 * (`/api/chart/templates`). Shapes follow `analytics_ext/schemas/chart_objects.py`
 * and `chart_export.py`.
 */
import { AreaAPI } from './base';
import { type IDownload, requestBlob, withQuery } from './request';

/** The caller's level on a chart or template. */
export type ChartPermission = 'view' | 'edit' | 'manage';

export type ChartType =
  'bar' | 'line' | 'area' | 'scatter' | 'pie' | 'histogram' | 'heatmap' | 'box';

export type ChartChannel = 'x' | 'y' | 'color' | 'size' | 'facet';

/** A chart's spec as the server answers it (only what the panel reads is typed). */
export interface IChartSpec {
  type: ChartType;
  encodings: Partial<
    Record<ChartChannel, { field: string; type?: string | null }>
  >;
  [key: string]: unknown;
}

/** `GET /api/chart/{id}` and the items of `GET /api/chart`. */
export interface IChart {
  id: string;
  name: string;
  description: string;
  owner_id: string | null;
  query_id: string;
  parameters: Record<string, unknown>;
  spec: IChartSpec;
  customization: Record<string, unknown>;
  effective_customization: Record<string, unknown>;
  permission: ChartPermission;
  created_at: string;
  updated_at: string;
}

/** A page of charts or templates (keyset paging: `next` is the cursor). */
export interface IChartPage<T> {
  items: T[];
  next: string | null;
  total: number;
}

export interface IChartPatch {
  name?: string;
  description?: string;
}

/** What one template channel needs bound: a column (of `type`, if set). */
export interface ITemplateRole {
  channel: ChartChannel;
  /** The placeholder name; a column of that name binds when none is given. */
  role: string;
  type: string | null;
}

export interface IChartTemplate {
  id: string;
  name: string;
  description: string;
  owner_id: string | null;
  spec: IChartSpec;
  customization: Record<string, unknown>;
  roles: ITemplateRole[];
  permission: ChartPermission;
  created_at: string;
  updated_at: string;
}

/** `POST /api/chart/templates/{id}/apply`: a new chart of `query_id`. */
export interface ITemplateApply {
  query_id: string;
  name: string;
  description?: string;
  /** Channel → column; a channel left out binds the column named like its role. */
  bindings?: Partial<Record<ChartChannel, string>>;
}

export type ChartExportFormat = 'png' | 'svg' | 'pdf' | 'csv' | 'json';

/** `POST /api/chart/export` for a saved chart. */
export interface IChartExport {
  chart_id: string;
  format: ChartExportFormat;
  width?: number;
  height?: number;
  scale?: number;
}

/** A saved query as far as the charts panel needs it (its name). */
export interface IQueryRef {
  id: string;
  name: string;
}

/** Thumbnail size in CSS pixels (the server takes 50 to 800 each). */
export interface IThumbnailSize {
  width: number;
  height: number;
}

const ID = /^[A-Za-z0-9_-]{22}$/;

/** `api/chart/<id>` with the id checked, so no path can be smuggled in. */
export function chartPath(id: string, ...rest: string[]): string {
  if (!ID.test(id)) {
    throw new Error(`Not a chart id: ${JSON.stringify(id)}`);
  }
  return ['api/chart', id, ...rest].join('/');
}

/** `api/chart/<id>/thumbnail?width=&height=`. */
export function thumbnailPath(id: string, size: IThumbnailSize): string {
  return withQuery(chartPath(id, 'thumbnail'), {
    width: size.width,
    height: size.height
  });
}

export class ChartsAPI extends AreaAPI {
  /** `GET /api/chart`: the charts the caller may view, oldest first. */
  list(
    options: { limit?: number; cursor?: string | null; queryId?: string } = {}
  ): Promise<IChartPage<IChart>> {
    return this.get<IChartPage<IChart>>('api/chart', {
      limit: options.limit,
      cursor: options.cursor,
      query_id: options.queryId
    });
  }

  getChart(id: string): Promise<IChart> {
    return this.get<IChart>(chartPath(id));
  }

  update(id: string, body: IChartPatch): Promise<IChart> {
    return this.patch<IChart>(chartPath(id), body);
  }

  remove(id: string): Promise<void> {
    return this.delete(chartPath(id));
  }

  /**
   * The chart's PNG thumbnail. Through the browser's HTTP cache (the server
   * sends an ETag and a short max-age); `revalidate` asks the server again
   * (a 304 when nothing changed) instead of reusing a fresh cached copy.
   * Never JupyterLab's default `no-store`, which would bypass that cache and
   * add a cache-busting parameter the route refuses.
   */
  async thumbnail(
    id: string,
    size: IThumbnailSize,
    revalidate = false
  ): Promise<Blob> {
    const init: RequestInit = { cache: revalidate ? 'no-cache' : 'default' };
    const file = await requestBlob(
      thumbnailPath(id, size),
      init,
      this.settings
    );
    return file.blob;
  }

  /** `POST /api/chart/export`: a file named by the server. */
  exportChart(body: IChartExport, fallbackName = 'chart'): Promise<IDownload> {
    return this.download('api/chart/export', { body, fallbackName });
  }

  templates(
    options: { limit?: number; cursor?: string | null } = {}
  ): Promise<IChartPage<IChartTemplate>> {
    return this.get<IChartPage<IChartTemplate>>('api/chart/templates', {
      limit: options.limit,
      cursor: options.cursor
    });
  }

  applyTemplate(templateId: string, body: ITemplateApply): Promise<IChart> {
    if (!ID.test(templateId)) {
      throw new Error(`Not a template id: ${JSON.stringify(templateId)}`);
    }
    return this.post<IChart>(`api/chart/templates/${templateId}/apply`, body);
  }

  /** A saved query's id and name (`GET /api/query/{id}`), to label charts. */
  async queryRef(id: string): Promise<IQueryRef> {
    if (!ID.test(id)) {
      throw new Error(`Not a query id: ${JSON.stringify(id)}`);
    }
    const query = await this.get<IQueryRef>(`api/query/${id}`);
    return { id: query.id, name: query.name };
  }

  /** Saved queries whose name contains `text` (`GET /api/query?q=`), for pickers. */
  async findQueries(text: string, limit = 50): Promise<IQueryRef[]> {
    const page = await this.get<IChartPage<IQueryRef>>('api/query', {
      q: text.trim() || null,
      limit
    });
    return page.items.map(query => ({ id: query.id, name: query.name }));
  }
}
