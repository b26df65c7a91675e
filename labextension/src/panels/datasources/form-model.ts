/**
 * The datasource form's values and the request bodies they become: pure
 * functions, so what Save and Test send can be tested without a browser.
 *
 * The server accepts a connection as a SQLAlchemy `url` or as its parts
 * (`drivername`, `host`, ...; see `DatasourceCreate`). The form offers a kind
 * per supported database (parts), file databases (a path) and a raw URL.
 * Secrets are never shown back: the password field starts empty, and an
 * empty password on edit means "keep the stored one" (it is not sent).
 */
import type {
  IConnectionFields,
  IConnectionTest,
  IDatasource,
  IDatasourceCreate,
  IDatasourceOptions,
  IDatasourcePatch
} from '../../api/datasources';

export type DatasourceKind =
  'postgresql' | 'mysql' | 'mariadb' | 'duckdb' | 'sqlite' | 'url';

export interface IKindInfo {
  label: string;
  /** The SQLAlchemy `dialect+driver` the form sends (not for `url`). */
  drivername?: string;
  /** A server database (host, port, user) or a file (path). */
  shape: 'server' | 'file' | 'url';
  defaultPort?: number;
}

export const KINDS: Record<DatasourceKind, IKindInfo> = {
  postgresql: {
    label: 'PostgreSQL',
    drivername: 'postgresql+psycopg',
    shape: 'server',
    defaultPort: 5432
  },
  mysql: {
    label: 'MySQL',
    drivername: 'mysql+pymysql',
    shape: 'server',
    defaultPort: 3306
  },
  mariadb: {
    label: 'MariaDB',
    drivername: 'mariadb+pymysql',
    shape: 'server',
    defaultPort: 3306
  },
  duckdb: { label: 'DuckDB file', drivername: 'duckdb', shape: 'file' },
  sqlite: { label: 'SQLite file', drivername: 'sqlite', shape: 'file' },
  url: { label: 'SQLAlchemy URL', shape: 'url' }
};

export const KIND_ORDER: DatasourceKind[] = [
  'postgresql',
  'mysql',
  'mariadb',
  'duckdb',
  'sqlite',
  'url'
];

/** Everything the form holds, as the inputs have it (text stays text). */
export interface IDatasourceFormValues {
  name: string;
  kind: DatasourceKind;
  url: string;
  host: string;
  port: string;
  database: string;
  /** The file path of a DuckDB or SQLite database. */
  path: string;
  username: string;
  /** Empty: none (create) or keep the stored one (edit). */
  password: string;
  readOnly: boolean;
  rowLimit: string;
  timeoutSeconds: string;
  cacheTtlSeconds: string;
}

export const DEFAULT_OPTIONS: IDatasourceOptions = {
  read_only: true,
  row_limit: 100000,
  timeout_seconds: 300,
  connect_timeout_seconds: 10,
  cache_ttl_seconds: 0
};

export function emptyValues(
  kind: DatasourceKind = 'postgresql'
): IDatasourceFormValues {
  return {
    name: '',
    kind,
    url: '',
    host: '',
    port: '',
    database: '',
    path: '',
    username: '',
    password: '',
    readOnly: DEFAULT_OPTIONS.read_only,
    rowLimit: String(DEFAULT_OPTIONS.row_limit),
    timeoutSeconds: String(DEFAULT_OPTIONS.timeout_seconds),
    cacheTtlSeconds: String(DEFAULT_OPTIONS.cache_ttl_seconds)
  };
}

/** The kind a saved datasource is edited as. */
export function kindOf(datasource: IDatasource): DatasourceKind {
  const dialect = datasource.dialect;
  if (dialect === 'duckdb' || dialect === 'sqlite') {
    return dialect;
  }
  const hasOptions = Object.keys(datasource.query ?? {}).length > 0;
  if (
    (dialect === 'postgresql' ||
      dialect === 'mysql' ||
      dialect === 'mariadb') &&
    !hasOptions
  ) {
    return dialect;
  }
  // URL options (sslmode, ...) have no field of their own: edit the URL.
  return 'url';
}

/** The form filled from a saved datasource; the password stays empty. */
export function valuesFromDatasource(
  datasource: IDatasource
): IDatasourceFormValues {
  const kind = kindOf(datasource);
  const info = KINDS[kind];
  const options = datasource.options;
  return {
    name: datasource.name,
    kind,
    url: kind === 'url' ? datasource.url : '',
    host: info.shape === 'server' ? (datasource.host ?? '') : '',
    port:
      info.shape === 'server' && datasource.port !== null
        ? String(datasource.port)
        : '',
    database: info.shape === 'server' ? (datasource.database ?? '') : '',
    path: info.shape === 'file' ? (datasource.database ?? '') : '',
    username: info.shape === 'server' ? (datasource.username ?? '') : '',
    password: '',
    readOnly: options.read_only,
    rowLimit: options.row_limit === null ? '' : String(options.row_limit),
    timeoutSeconds: String(options.timeout_seconds),
    cacheTtlSeconds: String(options.cache_ttl_seconds)
  };
}

/** A problem the form can name before asking the server, or null. */
export function validate(values: IDatasourceFormValues): string | null {
  if (values.name.trim() === '') {
    return 'Give the datasource a name.';
  }
  const shape = KINDS[values.kind].shape;
  if (shape === 'url' && values.url.trim() === '') {
    return 'Enter a SQLAlchemy URL (dialect+driver://user@host/database).';
  }
  if (shape === 'file' && values.path.trim() === '') {
    return 'Enter the absolute path of the database file.';
  }
  if (shape === 'server' && values.host.trim() === '') {
    return 'Enter the host of the database server.';
  }
  if (
    shape === 'server' &&
    values.port.trim() !== '' &&
    parseIntStrict(values.port) === null
  ) {
    return 'The port must be a whole number.';
  }
  if (
    values.rowLimit.trim() !== '' &&
    parseIntStrict(values.rowLimit) === null
  ) {
    return 'The row limit must be a whole number (empty: no limit of this datasource).';
  }
  for (const [label, text] of [
    ['query timeout', values.timeoutSeconds],
    ['cache lifetime', values.cacheTtlSeconds]
  ] as const) {
    if (text.trim() !== '' && !Number.isFinite(Number(text))) {
      return `The ${label} must be a number of seconds.`;
    }
  }
  return null;
}

/** The connection as the server takes it (create, or an unsaved test). */
export function connectionFields(
  values: IDatasourceFormValues
): IConnectionFields {
  const info = KINDS[values.kind];
  const password = values.password === '' ? {} : { password: values.password };
  if (info.shape === 'url') {
    return { url: values.url.trim(), ...password };
  }
  if (info.shape === 'file') {
    return { drivername: info.drivername!, database: values.path.trim() };
  }
  return {
    drivername: info.drivername!,
    ...optionalText('host', values.host),
    ...optionalPort(values.port),
    ...optionalText('database', values.database),
    ...optionalText('username', values.username),
    ...password
  };
}

/** The options as the server takes them; empty fields keep their defaults. */
export function optionsOf(
  values: IDatasourceFormValues
): Partial<IDatasourceOptions> {
  const options: Partial<IDatasourceOptions> = { read_only: values.readOnly };
  const rowLimit = values.rowLimit.trim();
  options.row_limit = rowLimit === '' ? null : parseIntStrict(rowLimit);
  if (values.timeoutSeconds.trim() !== '') {
    options.timeout_seconds = Number(values.timeoutSeconds);
  }
  if (values.cacheTtlSeconds.trim() !== '') {
    options.cache_ttl_seconds = Number(values.cacheTtlSeconds);
  }
  return options;
}

/** `POST api/datasources`. */
export function createBody(values: IDatasourceFormValues): IDatasourceCreate {
  return {
    name: values.name.trim(),
    ...connectionFields(values),
    options: optionsOf(values)
  };
}

/**
 * The connection fields that changed against `saved` (empty: none). A new
 * password is always sent; an empty one keeps the stored secret. A changed
 * kind sends the whole connection.
 */
export function connectionChanges(
  values: IDatasourceFormValues,
  saved: IDatasource
): IConnectionFields {
  const before = valuesFromDatasource(saved);
  const info = KINDS[values.kind];
  const password = values.password === '' ? {} : { password: values.password };
  if (values.kind !== before.kind) {
    return connectionFields(values);
  }
  if (info.shape === 'url') {
    return values.url.trim() !== before.url
      ? { url: values.url.trim(), ...password }
      : { ...password };
  }
  if (info.shape === 'file') {
    return values.path.trim() !== before.path
      ? { database: values.path.trim() }
      : {};
  }
  const changes: IConnectionFields = {};
  for (const field of ['host', 'database', 'username'] as const) {
    if (values[field].trim() !== before[field]) {
      changes[field] =
        values[field].trim() === '' ? null : values[field].trim();
    }
  }
  if (values.port.trim() !== before.port) {
    changes.port =
      values.port.trim() === '' ? null : parseIntStrict(values.port);
  }
  return { ...changes, ...password };
}

/** `PATCH api/datasources/{id}`: only what changed (may be `{}`). */
export function patchBody(
  values: IDatasourceFormValues,
  saved: IDatasource
): IDatasourcePatch {
  const body: IDatasourcePatch = { ...connectionChanges(values, saved) };
  if (values.name.trim() !== saved.name) {
    body.name = values.name.trim();
  }
  const options = optionsOf(values);
  const changedOptions: Partial<IDatasourceOptions> = {};
  for (const key of Object.keys(options) as (keyof IDatasourceOptions)[]) {
    if (options[key] !== saved.options[key]) {
      (changedOptions as Record<string, unknown>)[key] = options[key];
    }
  }
  if (Object.keys(changedOptions).length > 0) {
    body.options = changedOptions;
  }
  return body;
}

/**
 * `POST api/datasources/test-connection` for what the form shows: the unsaved
 * definition, or the saved datasource with the form's connection changes
 * applied (the server fills in the stored password).
 */
export function testBody(
  values: IDatasourceFormValues,
  saved: IDatasource | null
): IConnectionTest {
  if (saved === null) {
    return { definition: connectionFields(values), options: optionsOf(values) };
  }
  const changes = connectionChanges(values, saved);
  return Object.keys(changes).length > 0
    ? { datasource_id: saved.id, definition: changes }
    : { datasource_id: saved.id };
}

/** A whole number written as one, else null ("12abc" and "1.5" are not). */
export function parseIntStrict(text: string): number | null {
  const trimmed = text.trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : null;
}

function optionalText(
  field: 'host' | 'database' | 'username',
  text: string
): IConnectionFields {
  const trimmed = text.trim();
  return trimmed === '' ? {} : { [field]: trimmed };
}

function optionalPort(text: string): IConnectionFields {
  const port = parseIntStrict(text);
  return port === null ? {} : { port };
}
