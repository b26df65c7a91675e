/**
 * `queries` routes of the analytics REST API and the shapes they answer with:
 * saved queries (`/api/query`), favorites (`/api/query/favorites`), templates
 * (`/api/query/templates`), run history (`/api/query/history`) and exports
 * (`/api/query/export`). Shapes follow `analytics_ext/schemas/saved_queries.py`,
 * `favorites.py`, `query_templates.py`, `queries.py` and `query_export.py`.
 */
import { AreaAPI, type Query } from './base';
import type { IDownload } from './request';

/** The caller's level on a saved query or template. */
export type QueryPermission = 'view' | 'edit' | 'manage';

/**
 * One typed parameter definition (`schemas/parameters.py`): `text`, `number`,
 * `date`, `date_range` or `enum`, with a default.
 */
export interface IParameterDefinition {
  name: string;
  type: 'text' | 'number' | 'date' | 'date_range' | 'enum';
  label?: string;
  description?: string;
  required?: boolean;
  default?: ParameterValue;
  /** `number` only. */
  integer?: boolean;
  minimum?: number | null;
  maximum?: number | null;
  /** `enum` only. */
  options?: (string | number)[];
}

/** What a run or an instantiation sends for one parameter. */
export type ParameterValue =
  string | number | boolean | null | { start: string; end: string };

/** `GET /api/query/{id}` and the items of `GET /api/query`. */
export interface ISavedQuery {
  id: string;
  name: string;
  description: string;
  /** Null once the datasource has been deleted. */
  datasource_id: string | null;
  sql: string;
  parameters: IParameterDefinition[];
  tags: string[];
  owner_id: string | null;
  owner_name: string | null;
  version: number;
  permission: QueryPermission;
  created_at: string;
  updated_at: string;
}

export interface ISavedQueryCreate {
  name: string;
  description?: string;
  datasource_id: string;
  sql: string;
  parameters?: IParameterDefinition[];
  tags?: string[];
}

export interface ISavedQueryPatch {
  name?: string;
  description?: string;
  datasource_id?: string;
  sql?: string;
  tags?: string[];
  /** The version edited; the server answers 409 if the query moved on. */
  base_version?: number;
}

/** A page of any of the lists, its cursor normalized to `next`. */
export interface IPage<T> {
  items: T[];
  /** Cursor of the next page; null on the last page. */
  next: string | null;
  /** The number of matches, where the server counts them. */
  total?: number;
}

/** Filters and paging of `GET /api/query` (all optional). */
export interface ISavedQueryListQuery {
  limit?: number;
  cursor?: string | null;
  /** Name contains this text (any case). */
  q?: string | null;
  /** Carries exactly this tag. */
  tag?: string | null;
  datasource_id?: string | null;
}

/** `GET /api/query/favorites` items: a favorite query or chart of the caller. */
export interface IFavorite {
  id: string;
  object_type: 'query' | 'chart';
  object_id: string;
  /** The object's name now (plain text). */
  name: string;
  position: number;
  created_at: string;
}

/** `GET /api/query/templates` items. */
export interface IQueryTemplate {
  id: string;
  name: string;
  description: string;
  /** Sandboxed Jinja2 SQL. */
  body: string;
  parameters: IParameterDefinition[];
  tags: string[];
  owner_id: string | null;
  owner_name: string | null;
  permission: QueryPermission;
  created_at: string;
  updated_at: string;
}

/** `POST /api/query/templates` (`QueryTemplateCreate`): a template holds no datasource. */
export interface IQueryTemplateCreate {
  name: string;
  description?: string;
  /** Sandboxed Jinja2 SQL: `{{ name }}` for each parameter's placeholder. */
  body: string;
  parameters?: IParameterDefinition[];
  tags?: string[];
}

/** `PATCH /api/query/templates/{id}` (needs `edit`): only the fields sent change. */
export interface IQueryTemplatePatch {
  name?: string;
  description?: string;
  body?: string;
  parameters?: IParameterDefinition[];
  tags?: string[];
}

export interface ITemplateListQuery {
  limit?: number;
  cursor?: string | null;
  q?: string | null;
  tag?: string | null;
}

/** `POST /api/query/templates/{id}/instantiate`: a new saved query from a template. */
export interface ITemplateInstantiate {
  name: string;
  datasource_id: string;
  parameters?: Record<string, ParameterValue>;
  description?: string;
  tags?: string[];
}

/** `GET /api/query/history` items: one of the caller's own runs. */
export interface IHistoryItem {
  id: string;
  datasource_id: string | null;
  sql: string;
  state: string;
  rows: number | null;
  elapsed_seconds: number | null;
  cached: boolean;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface IHistoryQuery {
  limit?: number;
  cursor?: string | null;
  datasource_id?: string | null;
}

export type ExportFormat = 'csv' | 'xlsx' | 'parquet' | 'json';

/** `POST /api/query/export` with a saved query: it runs now and streams back as a file. */
export interface IQueryExport {
  query_id: string;
  format: ExportFormat;
  parameters?: Record<string, ParameterValue>;
  row_limit?: number;
}

/**
 * The few fields of a datasource the queries panel shows (its picker and the
 * datasource column). The datasources area owns the full client
 * (`api/datasources.ts`); this keeps the queries panel independent of it.
 */
export interface IDatasourceChoice {
  id: string;
  name: string;
  dialect: string;
  permission: 'view' | 'use' | 'manage';
}

/** The largest page `GET /api/query/favorites` serves. */
const FAVORITES_PAGE = 500;

export class QueriesAPI extends AreaAPI {
  // -- saved queries -------------------------------------------------------------------------

  list(query: ISavedQueryListQuery = {}): Promise<IPage<ISavedQuery>> {
    return this.get<IPage<ISavedQuery>>('api/query', cleanQuery(query));
  }

  getQuery(id: string): Promise<ISavedQuery> {
    return this.get<ISavedQuery>(itemPath(id));
  }

  create(body: ISavedQueryCreate): Promise<ISavedQuery> {
    return this.post<ISavedQuery>('api/query', body);
  }

  update(id: string, body: ISavedQueryPatch): Promise<ISavedQuery> {
    return this.patch<ISavedQuery>(itemPath(id), body);
  }

  /** With `cascade`, the charts built on the query go too (else the server answers 409). */
  remove(id: string, cascade = false): Promise<void> {
    return this.delete(itemPath(id), cascade ? { cascade: true } : {});
  }

  // -- favorites -----------------------------------------------------------------------------

  favorites(
    cursor: string | null = null,
    limit = 100
  ): Promise<IPage<IFavorite>> {
    return this.get<IPage<IFavorite>>('api/query/favorites', { cursor, limit });
  }

  /** Every favorite of the caller (the server keeps at most 1000), in their order. */
  async allFavorites(): Promise<IFavorite[]> {
    const all: IFavorite[] = [];
    let cursor: string | null = null;
    do {
      const page: IPage<IFavorite> = await this.favorites(
        cursor,
        FAVORITES_PAGE
      );
      all.push(...page.items);
      cursor = page.next;
    } while (cursor);
    return all;
  }

  /** Favorite a saved query (favoriting it again returns the same favorite). */
  addFavorite(queryId: string): Promise<IFavorite> {
    return this.post<IFavorite>('api/query/favorites', {
      object_type: 'query',
      object_id: queryId
    });
  }

  /** Unfavorite a saved query by its id. */
  removeFavorite(queryId: string): Promise<void> {
    return this.delete('api/query/favorites', {
      object_type: 'query',
      object_id: queryId
    });
  }

  // -- templates -----------------------------------------------------------------------------

  templates(query: ITemplateListQuery = {}): Promise<IPage<IQueryTemplate>> {
    return this.get<IPage<IQueryTemplate>>(
      'api/query/templates',
      cleanQuery(query)
    );
  }

  createTemplate(body: IQueryTemplateCreate): Promise<IQueryTemplate> {
    return this.post<IQueryTemplate>('api/query/templates', body);
  }

  updateTemplate(
    id: string,
    body: IQueryTemplatePatch
  ): Promise<IQueryTemplate> {
    return this.patch<IQueryTemplate>(templatePath(id), body);
  }

  /** Needs `manage`; the template's grants and links go with it. */
  removeTemplate(id: string): Promise<void> {
    return this.delete(templatePath(id));
  }

  instantiate(
    templateId: string,
    body: ITemplateInstantiate
  ): Promise<ISavedQuery> {
    return this.post<ISavedQuery>(
      `${templatePath(templateId)}/instantiate`,
      body
    );
  }

  // -- history -------------------------------------------------------------------------------

  /** The caller's own runs, newest first. */
  async history(query: IHistoryQuery = {}): Promise<IPage<IHistoryItem>> {
    const page = await this.get<{
      items: IHistoryItem[];
      next_cursor: string | null;
    }>('api/query/history', cleanQuery(query));
    return { items: page.items, next: page.next_cursor };
  }

  // -- export --------------------------------------------------------------------------------

  /** The saved query's rows as a file; its name comes from `Content-Disposition`. */
  exportQuery(body: IQueryExport, fallbackName = 'query'): Promise<IDownload> {
    return this.download('api/query/export', { body, fallbackName });
  }

  // -- datasources (the picker) --------------------------------------------------------------

  /** The datasources the caller may see (first 200), for pickers and names. */
  async datasourceChoices(): Promise<IDatasourceChoice[]> {
    const page = await this.get<IPage<IDatasourceChoice>>('api/datasources', {
      limit: 200
    });
    return page.items.map(({ id, name, dialect, permission }) => ({
      id,
      name,
      dialect,
      permission
    }));
  }
}

function itemPath(id: string): string {
  return `api/query/${encodeURIComponent(id)}`;
}

function templatePath(id: string): string {
  return `api/query/templates/${encodeURIComponent(id)}`;
}

/** Drops empty strings, so an empty search box sends no `q=`. */
function cleanQuery(query: object): Query {
  const out: Query = {};
  for (const [key, value] of Object.entries(query) as [string, unknown][]) {
    if (value === '' || value === undefined || value === null) {
      continue;
    }
    out[key] = value as Query[string];
  }
  return out;
}
