/**
 * `datasources` routes of the analytics REST API and the shapes they answer
 * with (see `analytics_ext/schemas/datasources.py` and
 * `analytics_ext/openapi/datasources.yaml`).
 */
import { AreaAPI } from './base';

/** A caller's level on a datasource, least first. */
export type DatasourceLevel = 'view' | 'use' | 'manage';

/** How queries on the datasource run. */
export interface IDatasourceOptions {
  read_only: boolean;
  /** Most rows a query returns; null: the engine's own cap. */
  row_limit: number | null;
  timeout_seconds: number;
  connect_timeout_seconds: number;
  cache_ttl_seconds: number;
}

/** A datasource as the server shows it: secrets masked as `********`. */
export interface IDatasource {
  id: string;
  name: string;
  dialect: string;
  driver: string | null;
  /** The URL with the password and secret options masked. */
  url: string;
  host: string | null;
  port: number | null;
  database: string | null;
  username: string | null;
  query: Record<string, unknown>;
  has_password: boolean;
  options: IDatasourceOptions;
  owner_id: string | null;
  /** The caller's own level on it. */
  permission: DatasourceLevel;
  revision: number;
  created_at: string;
  updated_at: string;
}

export interface IDatasourcePage {
  items: IDatasource[];
  next: string | null;
  total: number;
}

/** Where the database is: a SQLAlchemy `url`, or its parts. */
export interface IConnectionFields {
  url?: string;
  drivername?: string;
  host?: string | null;
  port?: number | null;
  database?: string | null;
  username?: string | null;
  password?: string;
}

/** `POST api/datasources`. */
export interface IDatasourceCreate extends IConnectionFields {
  name: string;
  options?: Partial<IDatasourceOptions>;
}

/** `PATCH api/datasources/{id}`: omitted fields stay as they are. */
export interface IDatasourcePatch extends IConnectionFields {
  name?: string;
  options?: Partial<IDatasourceOptions>;
}

/** `POST api/datasources/test-connection`. */
export interface IConnectionTest {
  datasource_id?: string;
  definition?: IConnectionFields;
  options?: Partial<IDatasourceOptions>;
}

export type ConnectionFailure =
  | 'authentication_failed'
  | 'host_unreachable'
  | 'timeout'
  | 'database_missing'
  | 'driver_missing'
  | 'refused'
  | 'connection_failed';

export interface IConnectionTestResult {
  ok: boolean;
  category: ConnectionFailure | null;
  message: string;
  dialect: string;
  server_version: string | null;
  latency_ms: number | null;
}

export type RelationKind = 'table' | 'view';

/** A table or view without its columns (`columns=false`). */
export interface IRelationName {
  name: string;
  kind: RelationKind;
  row_estimate: number | null;
}

/** `GET api/datasources/schema?columns=false`: one page of a schema's names. */
export interface IRelationNamesPage {
  datasource_id: string;
  schema: string | null;
  /** Every schema's name, on the first page only. */
  schemas: string[] | null;
  items: IRelationName[];
  next: string | null;
  total: number;
  cached_at: string;
}

export interface IColumn {
  name: string;
  type: string;
  nullable: boolean;
  primary_key: boolean;
}

export interface IForeignKey {
  columns: string[];
  referred_schema: string | null;
  referred_table: string;
  referred_columns: string[];
}

/** `GET api/datasources/schema/table`: one relation and a page of its columns. */
export interface ITableColumnsPage {
  datasource_id: string;
  schema: string | null;
  table: string;
  kind: RelationKind;
  row_estimate: number | null;
  primary_key: string[];
  foreign_keys: IForeignKey[];
  columns: IColumn[];
  next: string | null;
  total_columns: number;
}

/** `GET api/datasources/preview`. */
export interface IPreviewResult {
  datasource_id: string;
  schema: string | null;
  table: string;
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
}

export interface ISchemaListQuery {
  schema?: string | null;
  cursor?: string | null;
  limit?: number;
  refresh?: boolean;
}

export interface ITableColumnsQuery {
  schema?: string | null;
  table: string;
  cursor?: string | null;
  limit?: number;
}

const BASE = 'api/datasources';

export class DatasourcesAPI extends AreaAPI {
  /** One page of the datasources the caller may see. */
  list(cursor: string | null = null, limit = 100): Promise<IDatasourcePage> {
    return this.get<IDatasourcePage>(BASE, { cursor, limit });
  }

  getOne(id: string): Promise<IDatasource> {
    return this.get<IDatasource>(`${BASE}/${encodeURIComponent(id)}`);
  }

  create(body: IDatasourceCreate): Promise<IDatasource> {
    return this.post<IDatasource>(BASE, body);
  }

  update(id: string, body: IDatasourcePatch): Promise<IDatasource> {
    return this.patch<IDatasource>(`${BASE}/${encodeURIComponent(id)}`, body);
  }

  remove(id: string): Promise<void> {
    return this.delete(`${BASE}/${encodeURIComponent(id)}`);
  }

  testConnection(body: IConnectionTest): Promise<IConnectionTestResult> {
    return this.post<IConnectionTestResult>(`${BASE}/test-connection`, body);
  }

  /** A page of a schema's tables and views by name only: no columns reflected. */
  relationNames(
    datasourceId: string,
    query: ISchemaListQuery = {}
  ): Promise<IRelationNamesPage> {
    return this.get<IRelationNamesPage>(`${BASE}/schema`, {
      datasource_id: datasourceId,
      schema: query.schema,
      cursor: query.cursor,
      limit: query.limit,
      refresh: query.refresh ? true : undefined,
      columns: false
    });
  }

  /** One table's (or view's) columns, a page at a time. */
  tableColumns(
    datasourceId: string,
    query: ITableColumnsQuery
  ): Promise<ITableColumnsPage> {
    return this.get<ITableColumnsPage>(`${BASE}/schema/table`, {
      datasource_id: datasourceId,
      schema: query.schema,
      table: query.table,
      cursor: query.cursor,
      limit: query.limit
    });
  }

  preview(
    datasourceId: string,
    table: string,
    schema: string | null = null,
    limit?: number
  ): Promise<IPreviewResult> {
    return this.get<IPreviewResult>(`${BASE}/preview`, {
      datasource_id: datasourceId,
      schema,
      table,
      limit
    });
  }
}
