import type { IFavorite, ISavedQuery } from '../src/api/queries';
import {
  openQueryCode,
  openSqlCode,
  pythonSql,
  pythonString
} from '../src/panels/queries/cells';
import {
  EXPORT_FORMATS,
  exportFormat,
  exportSummary,
  fallbackFilename
} from '../src/panels/queries/export';
import { FavoriteState } from '../src/panels/queries/favorites';
import {
  NO_FILTER,
  PagedList,
  filtersOf,
  formatDuration,
  formatWhen,
  historyRequest,
  knownTags,
  matchesFilter,
  parseTags,
  queryFavorites,
  savedRequest,
  sqlSnippet,
  templatesRequest
} from '../src/panels/queries/model';

function query(id: string, extra: Partial<ISavedQuery> = {}): ISavedQuery {
  return {
    id,
    name: `Query ${id}`,
    description: '',
    datasource_id: 'ds1',
    sql: 'SELECT 1',
    parameters: [],
    tags: [],
    owner_id: 'u',
    owner_name: 'me',
    version: 1,
    permission: 'manage',
    created_at: '2026-11-27T10:00:00Z',
    updated_at: '2026-11-27T10:00:00Z',
    ...extra
  };
}

function favorite(
  objectId: string,
  position: number,
  type: 'query' | 'chart' = 'query'
): IFavorite {
  return {
    id: `fav-${objectId}`,
    object_type: type,
    object_id: objectId,
    name: objectId,
    position,
    created_at: '2026-11-27T10:00:00Z'
  };
}

describe('list requests', () => {
  it('sends the filter of the saved tab as the server parameters', () => {
    expect(
      savedRequest({ q: '  revenue ', tag: 'sales', datasourceId: 'ds1' }, 'c2')
    ).toEqual({
      limit: 50,
      cursor: 'c2',
      q: 'revenue',
      tag: 'sales',
      datasource_id: 'ds1'
    });
  });

  it('sends no search for a blank box, and cuts text at the server maximum', () => {
    expect(savedRequest({ ...NO_FILTER, q: '   ' }).q).toBeNull();
    expect(savedRequest({ ...NO_FILTER, q: 'x'.repeat(300) }).q).toHaveLength(
      200
    );
  });

  it('gives templates no datasource and history only the datasource', () => {
    const filter = { q: 'a', tag: 't', datasourceId: 'ds' };
    expect(templatesRequest(filter)).toEqual({
      limit: 50,
      cursor: null,
      q: 'a',
      tag: 't'
    });
    expect(historyRequest(filter, 'h1')).toEqual({
      limit: 50,
      cursor: 'h1',
      datasource_id: 'ds'
    });
  });

  it('offers only the filters a tab applies', () => {
    expect(filtersOf('history')).toEqual({
      search: false,
      tag: false,
      datasource: true
    });
    expect(filtersOf('templates')).toEqual({
      search: true,
      tag: true,
      datasource: false
    });
  });
});

describe('PagedList', () => {
  it('appends the next page and keeps the cursor and total', () => {
    const list = new PagedList<ISavedQuery>();
    list.reset({ items: [query('a'), query('b')], next: 'c1', total: 3 });
    expect(list.hasMore).toBe(true);
    list.append({ items: [query('c')], next: null, total: 3 });
    expect(list.items.map(q => q.id)).toEqual(['a', 'b', 'c']);
    expect(list.hasMore).toBe(false);
    expect(list.total).toBe(3);
  });

  it('shows a row that moved between pages once', () => {
    const list = new PagedList<ISavedQuery>();
    list.reset({ items: [query('a'), query('b')], next: 'c1' });
    list.append({ items: [query('b'), query('c')], next: null });
    expect(list.items.map(q => q.id)).toEqual(['a', 'b', 'c']);
  });

  it('starts over on reset and updates or drops one row', () => {
    const list = new PagedList<ISavedQuery>();
    list.reset({ items: [query('a'), query('b')], next: null, total: 2 });
    list.update('a', query('a', { name: 'Renamed' }));
    list.update('b', null);
    expect(list.items.map(q => q.name)).toEqual(['Renamed']);
    expect(list.total).toBe(1);
    list.reset({ items: [query('b')], next: null });
    expect(list.items.map(q => q.id)).toEqual(['b']);
    expect(list.total).toBeNull();
  });
});

describe('favorites filtering', () => {
  it('filters loaded favorites as the server filters saved queries', () => {
    const q = query('a', {
      name: 'Revenue by Month',
      tags: ['sales'],
      datasource_id: 'ds1'
    });
    expect(
      matchesFilter(q, { q: 'month', tag: null, datasourceId: null })
    ).toBe(true);
    expect(matchesFilter(q, { q: 'week', tag: null, datasourceId: null })).toBe(
      false
    );
    expect(matchesFilter(q, { q: '', tag: 'sale', datasourceId: null })).toBe(
      false
    );
    expect(matchesFilter(q, { q: '', tag: 'sales', datasourceId: 'ds2' })).toBe(
      false
    );
  });

  it('keeps query favorites only, in the user order', () => {
    const ids = queryFavorites([
      favorite('b', 2),
      favorite('c', 0, 'chart'),
      favorite('a', 1)
    ]).map(f => f.object_id);
    expect(ids).toEqual(['a', 'b']);
  });
});

describe('FavoriteState', () => {
  function calls() {
    return {
      addFavorite: jest.fn((id: string) => Promise.resolve(favorite(id, 5))),
      removeFavorite: jest.fn((_id: string) => Promise.resolve())
    };
  }

  it('starts from the server list (queries only)', () => {
    const state = new FavoriteState([
      favorite('a', 0),
      favorite('b', 1, 'chart')
    ]);
    expect(state.isFavorite('a')).toBe(true);
    expect(state.isFavorite('b')).toBe(false);
  });

  it('favorites, then unfavorites, through the server', async () => {
    const state = new FavoriteState([]);
    const api = calls();
    await expect(state.toggle('a', api)).resolves.toBe(true);
    expect(api.addFavorite).toHaveBeenCalledWith('a');
    expect(state.favorites.map(f => f.id)).toEqual(['fav-a']);
    await expect(state.toggle('a', api)).resolves.toBe(false);
    expect(api.removeFavorite).toHaveBeenCalledWith('a');
    expect(state.isFavorite('a')).toBe(false);
  });

  it('sends no second request while one is pending', async () => {
    const state = new FavoriteState([]);
    let finish: (value: IFavorite) => void = () => undefined;
    const api = {
      addFavorite: jest.fn(
        () => new Promise<IFavorite>(resolve => (finish = resolve))
      ),
      removeFavorite: jest.fn(() => Promise.resolve())
    };
    const first = state.toggle('a', api);
    expect(state.isPending('a')).toBe(true);
    await expect(state.toggle('a', api)).resolves.toBe(false);
    finish(favorite('a', 0));
    await expect(first).resolves.toBe(true);
    expect(api.addFavorite).toHaveBeenCalledTimes(1);
    expect(api.removeFavorite).not.toHaveBeenCalled();
    expect(state.isPending('a')).toBe(false);
  });

  it('keeps the state when the server refuses', async () => {
    const state = new FavoriteState([favorite('a', 0)]);
    const api = {
      addFavorite: jest.fn(),
      removeFavorite: jest.fn(() =>
        Promise.reject(new Error('favorite not found'))
      )
    };
    await expect(state.toggle('a', api)).rejects.toThrow('favorite not found');
    expect(state.isFavorite('a')).toBe(true);
    expect(state.isPending('a')).toBe(false);
  });
});

describe('export formats', () => {
  it('maps every server format to a label and extension', () => {
    expect(EXPORT_FORMATS.map(f => f.format)).toEqual([
      'csv',
      'xlsx',
      'parquet',
      'json'
    ]);
    expect(exportFormat('parquet').extension).toBe('parquet');
    expect(() => exportFormat('pdf')).toThrow(/Unknown export format "pdf"/);
  });

  it('makes a safe fallback file name', () => {
    expect(fallbackFilename('Revenue / month: "EU"', 'csv')).toBe(
      'Revenue-month-EU.csv'
    );
    expect(fallbackFilename('../../etc', 'json')).toBe('etc.json');
    expect(fallbackFilename('', 'xlsx')).toBe('query.xlsx');
  });

  it('summarizes the export headers', () => {
    const headers = new Headers({
      'X-Export-Rows': '1234',
      'X-Export-Truncated': 'true'
    });
    const summary = exportSummary({
      blob: new Blob(['x']),
      filename: 'q-2026-11-27.csv',
      headers
    });
    expect(summary).toBe('q-2026-11-27.csv: 1,234 rows (cut at the row limit)');
    expect(
      exportSummary({
        blob: new Blob([]),
        filename: 'a.json',
        headers: new Headers()
      })
    ).toBe('a.json: the file');
  });
});

/** Python's own reading of a string literal, for the characters pythonString emits. */
function readPython(literal: string): string {
  expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
  const body = literal.slice(1, -1);
  // An unescaped quote or a raw newline would end or break the literal.
  expect(/(^|[^\\])(\\\\)*"/.test(body)).toBe(false);
  expect(/[\n\r\u2028\u2029\u0085]/.test(body)).toBe(false);
  return body.replace(
    /\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[\\"nrt])/g,
    (_, escape: string) => {
      switch (escape[0]) {
        case 'x':
        case 'u':
        case 'U':
          return String.fromCodePoint(parseInt(escape.slice(1), 16));
        case 'n':
          return '\n';
        case 'r':
          return '\r';
        case 't':
          return '\t';
        default:
          return escape;
      }
    }
  );
}

describe('notebook cell code', () => {
  it('escapes quotes, backslashes, newlines and separators into one literal', () => {
    for (const text of [
      'abcdefghijklmnopqrstuv',
      'a"b\\c\n")\nimport os  #',
      '\u2028\u0085\x00\x7f é 𝄞',
      "it's"
    ]) {
      expect(readPython(pythonString(text))).toBe(text);
    }
    expect(pythonString('a"\\')).toBe('"a\\"\\\\"');
    expect(pythonString('é\u2028𝄞')).toBe('"\\xe9\\u2028\\U0001d11e"');
  });

  it('opens a saved query: shows the editor, waits for it, runs it', () => {
    const code = openQueryCode('AbC_-123456789012345678');
    expect(code).toBe(
      [
        'from analytics_ext import widgets',
        '',
        'query_editor = widgets.open_query("AbC_-123456789012345678")',
        'display(query_editor)',
        'query_editor.wait()  # the saved query and the datasource list have loaded',
        'query_editor.run();  # the grid fills in when the run ends'
      ].join('\n')
    );
    expect(openQueryCode('x")\nimport os\n("')).toContain(
      'widgets.open_query("x\\")\\nimport os\\n(\\"")'
    );
  });

  it('keeps plain SQL readable and escapes the rest', () => {
    expect(pythonSql('SELECT *\nFROM orders')).toBe(
      '"""SELECT *\nFROM orders"""'
    );
    expect(pythonSql('SELECT "a" FROM t')).toBe('"SELECT \\"a\\" FROM t"');
    expect(pythonSql("SELECT '\\' FROM t")).toBe('"SELECT \'\\\\\' FROM t"');
    expect(pythonSql('SELECT 1 -- """')).toBe('"SELECT 1 -- \\"\\"\\""');
  });

  it('opens a history run with its SQL and datasource', () => {
    const code = openSqlCode('SELECT 1', 'ds_id');
    expect(code).toContain(
      'widgets.QueryEditor(sql="""SELECT 1""", datasource="ds_id")'
    );
    expect(code).toContain('query_editor.run()');
    expect(openSqlCode('SELECT 1', null)).toContain(
      'widgets.QueryEditor(sql="""SELECT 1""")'
    );
  });
});

describe('small formatting', () => {
  it('parses tags', () => {
    expect(parseTags(' sales, weekly ,, sales')).toEqual(['sales', 'weekly']);
    expect(parseTags('')).toEqual([]);
  });

  it('offers every tag seen, the selected one included', () => {
    expect(knownTags(['b'], [{ tags: ['c', 'a'] }], 'z')).toEqual([
      'a',
      'b',
      'c',
      'z'
    ]);
  });

  it('squeezes SQL into a snippet', () => {
    expect(sqlSnippet('SELECT *\n  FROM   orders')).toBe(
      'SELECT * FROM orders'
    );
    expect(sqlSnippet('x'.repeat(100), 10)).toBe('xxxxxxxxx…');
  });

  it('formats durations and times', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(0.123)).toBe('0.12 s');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
    const now = new Date('2026-11-27T12:00:00Z');
    expect(formatWhen('2026-11-27T11:59:50Z', now)).toBe('just now');
    expect(formatWhen('2026-11-27T11:50:00Z', now)).toBe('10 min ago');
    expect(formatWhen('2026-11-27T09:00:00Z', now)).toBe('3 h ago');
    expect(formatWhen('2026-11-20T09:00:00Z', now)).toBe('2026-11-20');
  });
});
