import type { IDashboard } from '../src/api/dashboards';
import {
  actionsFor,
  allows,
  checkTitle,
  exportFileName,
  filterDashboards,
  notebookCode,
  ownerText,
  publishState,
  publishStateText,
  tileCountText,
  viewerUrl,
  viewerWidgetId
} from '../src/panels/dashboards/model';

function dashboard(fields: Partial<IDashboard> = {}): IDashboard {
  return {
    id: 'AAAAAAAAAAAAAAAAAAAAAA',
    title: 'Retail overview',
    description: '',
    tiles: [],
    layout: [],
    refresh_seconds: null,
    tags: [],
    owner_id: 'me',
    version: 1,
    permission: 'manage',
    published_version: null,
    published_at: null,
    viewer_url: null,
    created_at: '2026-11-27T10:00:00Z',
    updated_at: '2026-11-27T10:00:00Z',
    ...fields
  };
}

describe('publish state', () => {
  it('is a draft until published', () => {
    const board = dashboard({ version: 2 });
    expect(publishState(board)).toBe('draft');
    expect(publishStateText(board)).toBe('Draft v2 · not published');
  });

  it('names the published version', () => {
    const board = dashboard({ version: 3, published_version: 3 });
    expect(publishState(board)).toBe('published');
    expect(publishStateText(board)).toBe('Published v3');
  });

  it('says when saves happened since publishing', () => {
    const board = dashboard({ version: 5, published_version: 3 });
    expect(publishState(board)).toBe('changed');
    expect(publishStateText(board)).toBe('Published v3 · changes since (v5)');
  });
});

describe('tile counts', () => {
  it.each([
    [0, 'No tiles'],
    [1, '1 tile'],
    [4, '4 tiles']
  ])('%i → %s', (count, text) => {
    expect(tileCountText(count)).toBe(text);
  });
});

describe('levels and actions', () => {
  it('orders view < edit < manage and refuses unknown levels', () => {
    expect(allows('manage', 'edit')).toBe(true);
    expect(allows('edit', 'edit')).toBe(true);
    expect(allows('view', 'edit')).toBe(false);
    expect(allows('owner', 'view')).toBe(false);
  });

  it('lets a viewer open and export a published dashboard, nothing else', () => {
    const allowed = actionsFor(
      dashboard({ permission: 'view', published_version: 1 })
    );
    expect(allowed).toEqual({
      open: true,
      publish: false,
      unpublish: false,
      rename: false,
      share: false,
      remove: false,
      export: true
    });
  });

  it('cannot open a draft; an editor may publish but not share or delete', () => {
    const allowed = actionsFor(dashboard({ permission: 'edit' }));
    expect(allowed.open).toBe(false);
    expect(allowed.unpublish).toBe(false);
    expect(allowed.publish).toBe(true);
    expect(allowed.rename).toBe(true);
    expect(allowed.share).toBe(false);
    expect(allowed.remove).toBe(false);
  });
});

describe('owner text', () => {
  it('says nothing for my own dashboards', () => {
    expect(ownerText(dashboard({ owner_id: 'me' }), 'me')).toBeNull();
  });

  it('names the owner of a shared dashboard when the server does', () => {
    const board = dashboard({ owner_id: 'u2', owner_name: 'bob' });
    expect(ownerText(board, 'me')).toBe('Shared by bob');
    expect(ownerText(dashboard({ owner_id: 'u2' }), 'me')).toBe(
      'Shared with you'
    );
  });

  it('says when the owner account is gone', () => {
    expect(ownerText(dashboard({ owner_id: null }), 'me')).toBe(
      'Shared with you (owner removed)'
    );
  });
});

describe('viewer URL', () => {
  const id = 'Ab_-0123456789abcdefghi';

  it('sits under the Lab base URL, subpath included', () => {
    expect(viewerUrl('http://127.0.0.1:8888/', id)).toBe(
      `http://127.0.0.1:8888/analytics/dashboards/${id}`
    );
    expect(viewerUrl('http://host/user/ann%40x/', id)).toBe(
      `http://host/user/ann%40x/analytics/dashboards/${id}`
    );
    expect(viewerUrl('/lab-sub/deep/', id)).toBe(
      `/lab-sub/deep/analytics/dashboards/${id}`
    );
  });

  it('encodes the id as one path segment', () => {
    expect(viewerUrl('/base/', '../x?y')).toBe(
      '/base/analytics/dashboards/..%2Fx%3Fy'
    );
  });

  it('has one tab id per dashboard', () => {
    expect(viewerWidgetId(id)).toBe(`analytics-ext:dashboard-view:${id}`);
    expect(viewerWidgetId('other')).not.toBe(viewerWidgetId(id));
  });
});

describe('export file names', () => {
  it('keeps letters of any script and drops separators', () => {
    expect(exportFileName('Umsätze / Q4 "final"', 'pdf')).toBe(
      'Umsätze-Q4-final.pdf'
    );
    expect(exportFileName('売上 2026', 'html')).toBe('売上-2026.html');
  });

  it('falls back when nothing is left', () => {
    expect(exportFileName('../..', 'html')).toBe('dashboard.html');
    expect(exportFileName('', 'pdf')).toBe('dashboard.pdf');
  });

  it('is at most 100 characters before the extension', () => {
    const name = exportFileName('x'.repeat(300), 'pdf');
    expect(name).toBe(`${'x'.repeat(100)}.pdf`);
  });
});

describe('notebook code', () => {
  it('calls show with the id as a Python string', () => {
    expect(notebookCode('AAAAAAAAAAAAAAAAAAAAAA')).toBe(
      'from analytics_ext.dashboards.view import show\nshow("AAAAAAAAAAAAAAAAAAAAAA")'
    );
  });

  it('cannot be broken out of by the id', () => {
    const code = notebookCode('a")\nimport os#');
    expect(code.split('\n')).toHaveLength(2);
    expect(code).toContain('show("a\\")\\nimport os#")');
  });
});

describe('search', () => {
  const items = [
    dashboard({ id: 'a', title: 'Retail overview', tags: ['sales'] }),
    dashboard({
      id: 'b',
      title: 'Ops',
      description: 'Warehouse latency',
      owner_name: 'bob'
    }),
    dashboard({ id: 'c', title: 'Retail returns' })
  ];
  const ids = (search: string): string[] =>
    filterDashboards(items, search).map(item => item.id);

  it('matches every word, case-insensitively, in title, description, tags and owner', () => {
    expect(ids('')).toEqual(['a', 'b', 'c']);
    expect(ids('retail')).toEqual(['a', 'c']);
    expect(ids('RETAIL sales')).toEqual(['a']);
    expect(ids('warehouse')).toEqual(['b']);
    expect(ids('bob')).toEqual(['b']);
    expect(ids('nothing')).toEqual([]);
  });
});

describe('titles', () => {
  it('need 1 to 200 characters', () => {
    expect(checkTitle('  ')).toBe('A dashboard needs a name.');
    expect(checkTitle('x'.repeat(201))).toMatch(/at most 200/);
    expect(checkTitle(' Board ')).toBeNull();
  });
});
