/**
 * The datasource form: values → request bodies (create, patch, test), the
 * form widget keeping its values and showing the server's message on a
 * refused save, secrets never shown back, and the REST calls' shapes.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  DatasourcesAPI,
  type IConnectionTestResult,
  type IDatasource
} from '../src/api/datasources';
import { AnalyticsAPIError } from '../src/api/request';
import { DatasourceFormBody } from '../src/panels/datasources/form';
import {
  createBody,
  emptyValues,
  patchBody,
  testBody,
  validate,
  valuesFromDatasource
} from '../src/panels/datasources/form-model';
import {
  cellText,
  formatRowEstimate,
  testResultText
} from '../src/panels/datasources/format';

function saved(overrides: Partial<IDatasource> = {}): IDatasource {
  return {
    id: 'A'.repeat(22),
    name: 'warehouse',
    dialect: 'postgresql',
    driver: 'psycopg',
    url: 'postgresql+psycopg://ana:********@db.example:5432/sales',
    host: 'db.example',
    port: 5432,
    database: 'sales',
    username: 'ana',
    query: {},
    has_password: true,
    options: {
      read_only: true,
      row_limit: 100000,
      timeout_seconds: 300,
      connect_timeout_seconds: 10,
      cache_ttl_seconds: 0
    },
    owner_id: 'me',
    permission: 'manage',
    revision: 1,
    created_at: '2026-11-27T00:00:00Z',
    updated_at: '2026-11-27T00:00:00Z',
    ...overrides
  };
}

describe('form values → request bodies', () => {
  it('creates a server datasource from its parts', () => {
    const values = {
      ...emptyValues('postgresql'),
      name: ' warehouse ',
      host: 'db.example',
      port: '5433',
      database: 'sales',
      username: 'ana',
      password: 's3cret'
    };
    expect(createBody(values)).toEqual({
      name: 'warehouse',
      drivername: 'postgresql+psycopg',
      host: 'db.example',
      port: 5433,
      database: 'sales',
      username: 'ana',
      password: 's3cret',
      options: {
        read_only: true,
        row_limit: 100000,
        timeout_seconds: 300,
        cache_ttl_seconds: 0
      }
    });
  });

  it('creates a DuckDB or SQLite file datasource from a path, with no host or user', () => {
    const values = {
      ...emptyValues('duckdb'),
      name: 'retail',
      path: '/data/retail.duckdb',
      host: 'ignored',
      rowLimit: ''
    };
    const body = createBody(values);
    expect(body).toEqual({
      name: 'retail',
      drivername: 'duckdb',
      database: '/data/retail.duckdb',
      options: {
        read_only: true,
        row_limit: null,
        timeout_seconds: 300,
        cache_ttl_seconds: 0
      }
    });
    expect(
      createBody({ ...values, kind: 'sqlite', path: '/d/x.sqlite' }).drivername
    ).toBe('sqlite');
  });

  it('sends a URL as written, with a separate password only when given', () => {
    const values = {
      ...emptyValues('url'),
      name: 'u',
      url: ' mysql+pymysql://me@h/db '
    };
    expect(createBody(values)).toMatchObject({
      url: 'mysql+pymysql://me@h/db'
    });
    expect(createBody(values)).not.toHaveProperty('password');
    expect(createBody({ ...values, password: 'pw' })).toMatchObject({
      password: 'pw'
    });
  });

  it('edits show no secret, and patch only what changed', () => {
    const ds = saved();
    const values = valuesFromDatasource(ds);
    expect(values.password).toBe('');
    expect(JSON.stringify(values)).not.toContain('********');
    expect(patchBody(values, ds)).toEqual({});
    expect(
      patchBody({ ...values, name: 'renamed', database: 'sales2' }, ds)
    ).toEqual({
      name: 'renamed',
      database: 'sales2'
    });
    expect(patchBody({ ...values, password: 'new' }, ds)).toEqual({
      password: 'new'
    });
    expect(patchBody({ ...values, port: '' }, ds)).toEqual({ port: null });
    expect(
      patchBody({ ...values, readOnly: false, rowLimit: '50' }, ds)
    ).toEqual({
      options: { read_only: false, row_limit: 50 }
    });
  });

  it('edits a datasource with URL options as its (masked) URL', () => {
    const ds = saved({
      query: { sslmode: 'require' },
      url: 'postgresql+psycopg://ana:********@h/db?sslmode=require'
    });
    const values = valuesFromDatasource(ds);
    expect(values.kind).toBe('url');
    expect(values.url).toBe(ds.url);
    expect(patchBody(values, ds)).toEqual({});
    expect(
      patchBody(
        { ...values, url: 'postgresql+psycopg://ana:********@h/db2' },
        ds
      )
    ).toEqual({
      url: 'postgresql+psycopg://ana:********@h/db2'
    });
  });

  it('tests an unsaved definition, a saved datasource, or a saved one with changes', () => {
    const fresh = { ...emptyValues('sqlite'), path: '/d/shop.sqlite' };
    expect(testBody(fresh, null)).toEqual({
      definition: { drivername: 'sqlite', database: '/d/shop.sqlite' },
      options: {
        read_only: true,
        row_limit: 100000,
        timeout_seconds: 300,
        cache_ttl_seconds: 0
      }
    });
    const ds = saved();
    const values = valuesFromDatasource(ds);
    expect(testBody(values, ds)).toEqual({ datasource_id: ds.id });
    expect(
      testBody({ ...values, host: 'other.example', password: 'pw' }, ds)
    ).toEqual({
      datasource_id: ds.id,
      definition: { host: 'other.example', password: 'pw' }
    });
  });

  it('names problems it can see before asking the server', () => {
    expect(validate(emptyValues('duckdb'))).toMatch(/name/);
    expect(validate({ ...emptyValues('duckdb'), name: 'x' })).toMatch(/path/);
    expect(
      validate({ ...emptyValues(), name: 'x', host: 'h', port: '54x' })
    ).toMatch(/port/);
    expect(
      validate({ ...emptyValues(), name: 'x', host: 'h', rowLimit: '1.5' })
    ).toMatch(/row limit/);
    expect(validate({ ...emptyValues(), name: 'x', host: 'h' })).toBeNull();
  });
});

describe('formatting', () => {
  it('shows ok with version and latency, or the category and message', () => {
    const ok: IConnectionTestResult = {
      ok: true,
      category: null,
      message: 'connected',
      dialect: 'duckdb',
      server_version: 'v1.4.0',
      latency_ms: 3.21
    };
    expect(testResultText(ok)).toBe('Connection OK · v1.4.0 · 3.2 ms');
    expect(
      testResultText({
        ...ok,
        ok: false,
        category: 'authentication_failed',
        message: 'the server refused the user or password',
        server_version: null,
        latency_ms: null
      })
    ).toBe('Authentication failed: the server refused the user or password');
  });

  it('rounds row estimates and renders cells as text', () => {
    expect(formatRowEstimate(null)).toBe('');
    expect(formatRowEstimate(1)).toBe('~1 row');
    expect(formatRowEstimate(1234)).toBe('~1.2k rows');
    expect(formatRowEstimate(2_500_000)).toBe('~2.5M rows');
    expect(cellText(null)).toBe('NULL');
    expect(cellText('<b>x</b>')).toBe('<b>x</b>');
    expect(cellText({ a: 1 })).toBe('{"a":1}');
    expect(cellText(false)).toBe('false');
  });
});

describe('DatasourceFormBody', () => {
  function client(overrides: Record<string, jest.Mock> = {}) {
    return {
      create: jest.fn(),
      update: jest.fn(),
      testConnection: jest.fn(),
      ...overrides
    };
  }

  function fill(body: DatasourceFormBody, testId: string, value: string): void {
    const input = body.node.querySelector<HTMLInputElement | HTMLSelectElement>(
      `[data-testid="${testId}"]`
    )!;
    input.value = value;
    input.dispatchEvent(new Event('change'));
  }

  it('keeps the values and shows the server message when Save is refused', async () => {
    const refused = new AnalyticsAPIError(
      new Response('', { status: 422 }),
      'url: database file is outside the folders allowed for datasources on this server',
      'Unprocessable Entity'
    );
    const api = client({ create: jest.fn().mockRejectedValue(refused) });
    const body = new DatasourceFormBody(api, null);
    fill(body, 'datasource-form-name', 'retail');
    fill(body, 'datasource-form-kind', 'duckdb');
    fill(body, 'datasource-form-path', '/etc/passwd.duckdb');
    expect(await body.save()).toBeNull();
    expect(api.create).toHaveBeenCalledWith(
      expect.objectContaining({
        name: 'retail',
        drivername: 'duckdb',
        database: '/etc/passwd.duckdb'
      })
    );
    const error = body.node.querySelector(
      '[data-testid="datasource-form-error"]'
    ) as HTMLElement;
    expect(error.hidden).toBe(false);
    expect(error.textContent).toBe(refused.message);
    expect(body.values()).toMatchObject({
      name: 'retail',
      kind: 'duckdb',
      path: '/etc/passwd.duckdb'
    });
    expect(body.pending).toBe(false);
  });

  it('does not submit twice while a save is pending', async () => {
    let resolve: (ds: IDatasource) => void = () => undefined;
    const create = jest.fn(() => new Promise<IDatasource>(r => (resolve = r)));
    const body = new DatasourceFormBody(client({ create }), null);
    fill(body, 'datasource-form-name', 'w');
    fill(body, 'datasource-form-host', 'h');
    const first = body.save();
    expect(body.pending).toBe(true);
    expect(await body.save()).toBeNull();
    resolve(saved());
    expect(await first).toEqual(saved());
    expect(create).toHaveBeenCalledTimes(1);
  });

  it('never shows a stored password back, and tests the saved datasource', async () => {
    const result: IConnectionTestResult = {
      ok: true,
      category: null,
      message: 'connected',
      dialect: 'postgresql',
      server_version: 'PostgreSQL 16.4',
      latency_ms: 12
    };
    const api = client({ testConnection: jest.fn().mockResolvedValue(result) });
    const ds = saved();
    const body = new DatasourceFormBody(api, ds);
    const password = body.node.querySelector<HTMLInputElement>(
      '[data-testid="datasource-form-password"]'
    )!;
    expect(password.type).toBe('password');
    expect(password.value).toBe('');
    expect(body.node.innerHTML).not.toContain('********');
    await body.test();
    expect(api.testConnection).toHaveBeenCalledWith({ datasource_id: ds.id });
    const shown = body.node.querySelector(
      '[data-testid="datasource-form-test-result"]'
    )!;
    expect(shown.textContent).toBe('Connection OK · PostgreSQL 16.4 · 12 ms');
  });
});

describe('DatasourcesAPI', () => {
  it('asks for names only, and for one table’s columns on its own route', async () => {
    const urls: string[] = [];
    const fetch = jest.fn(async (input: RequestInfo | URL) => {
      urls.push(
        typeof input === 'string'
          ? input
          : ((input as Request).url ?? String(input))
      );
      return new Response('{}', {
        status: 200,
        headers: { 'Content-Type': 'application/json' }
      });
    });
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://h/base/',
      fetch: fetch as unknown as typeof globalThis.fetch
    });
    const api = new DatasourcesAPI(settings);
    await api.relationNames('D'.repeat(22), {
      schema: 'main',
      cursor: 'abc',
      limit: 100
    });
    await api.tableColumns('D'.repeat(22), {
      schema: 'main',
      table: 'we ird',
      limit: 200
    });
    const first = new URL(urls[0]);
    expect(first.pathname).toBe('/base/api/datasources/schema');
    expect(Object.fromEntries(first.searchParams)).toMatchObject({
      datasource_id: 'D'.repeat(22),
      schema: 'main',
      cursor: 'abc',
      limit: '100',
      columns: 'false'
    });
    const second = new URL(urls[1]);
    expect(second.pathname).toBe('/base/api/datasources/schema/table');
    expect(Object.fromEntries(second.searchParams)).toMatchObject({
      datasource_id: 'D'.repeat(22),
      schema: 'main',
      table: 'we ird',
      limit: '200'
    });
    expect(second.searchParams.has('columns')).toBe(false);
    // No cache-busting `&<timestamp>`: the server refuses unknown parameters.
    expect([...first.searchParams.keys()]).toEqual([
      'datasource_id',
      'schema',
      'cursor',
      'limit',
      'columns'
    ]);
    expect([...second.searchParams.keys()]).toEqual([
      'datasource_id',
      'schema',
      'table',
      'limit'
    ]);
  });
});
