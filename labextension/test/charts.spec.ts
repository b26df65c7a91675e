import type { IChart } from '../src/api/charts';
import { chartPath, thumbnailPath } from '../src/api/charts';
import {
  EXPORT_FORMATS,
  applyRequest,
  checkName,
  countLabel,
  exportBody,
  filterCharts,
  openChartCode,
  queryLabel,
  thumbnailKey,
  thumbnailRequestSize
} from '../src/panels/charts/model';
import {
  LazyThumbnails,
  ThumbnailStore
} from '../src/panels/charts/thumbnails';
import { chartRow, type IRowActions } from '../src/panels/charts/views';

const ID = 'abcdefghijklmnopqrstuv';

function chart(overrides: Partial<IChart> = {}): IChart {
  return {
    id: ID,
    name: 'Revenue by region',
    description: '',
    owner_id: 'u',
    query_id: 'QQQQQQQQQQQQQQQQQQQQQQ',
    parameters: {},
    spec: { type: 'bar', encodings: { x: { field: 'region' } } },
    customization: {},
    effective_customization: {},
    permission: 'manage',
    created_at: '2026-11-27T10:00:00Z',
    updated_at: '2026-11-27T10:00:00Z',
    ...overrides
  };
}

const noActions: IRowActions = {
  open: () => undefined,
  exportMenu: () => undefined,
  share: () => undefined,
  rename: () => undefined,
  remove: () => undefined
};

describe('thumbnail URLs and sizes', () => {
  it('builds the thumbnail route with the size and refuses non-ids', () => {
    expect(thumbnailPath(ID, { width: 192, height: 120 })).toBe(
      `api/chart/${ID}/thumbnail?width=192&height=120`
    );
    expect(() => chartPath('../user')).toThrow('Not a chart id');
    expect(() => thumbnailPath('x/y', { width: 100, height: 100 })).toThrow();
  });

  it('asks for twice the box, more on dense screens, within the server bounds', () => {
    expect(thumbnailRequestSize({ width: 96, height: 60 }, 1)).toEqual({
      width: 192,
      height: 120
    });
    expect(thumbnailRequestSize({ width: 96, height: 60 }, 3)).toEqual({
      width: 288,
      height: 180
    });
    expect(thumbnailRequestSize({ width: 10, height: 600 }, 2)).toEqual({
      width: 50,
      height: 800
    });
    expect(thumbnailRequestSize({ width: 96, height: 60 }, NaN)).toEqual({
      width: 192,
      height: 120
    });
  });

  it('keys a picture by revision and size', () => {
    const size = { width: 192, height: 120 };
    const a = thumbnailKey(chart(), size);
    expect(
      thumbnailKey(chart({ updated_at: '2026-11-28T00:00:00Z' }), size)
    ).not.toBe(a);
    expect(thumbnailKey(chart(), { width: 100, height: 120 })).not.toBe(a);
    expect(thumbnailKey(chart({ name: 'other' }), size)).toBe(a);
  });
});

/** A fetcher whose requests the test resolves by hand. */
function manualFetcher() {
  const calls: {
    id: string;
    revalidate: boolean;
    resolve: (blob: Blob) => void;
    reject: (error: Error) => void;
  }[] = [];
  const fetcher = (id: string, _size: unknown, revalidate: boolean) =>
    new Promise<Blob>((resolve, reject) => {
      calls.push({ id, revalidate, resolve, reject });
    });
  return { calls, fetcher };
}

function fakeURLs() {
  let made = 0;
  const live = new Set<string>();
  const revoked: string[] = [];
  return {
    live,
    revoked,
    urls: {
      create: () => {
        const url = `blob:${++made}`;
        live.add(url);
        return url;
      },
      revoke: (url: string) => {
        live.delete(url);
        revoked.push(url);
      }
    }
  };
}

describe('ThumbnailStore', () => {
  const size = { width: 192, height: 120 };

  it('shares one request, reuses the URL, and revokes a replaced one', async () => {
    const { calls, fetcher } = manualFetcher();
    const objects = fakeURLs();
    const store = new ThumbnailStore(fetcher, objects.urls);
    const first = store.load(chart(), size);
    const second = store.load(chart(), size);
    expect(calls).toHaveLength(1);
    calls[0].resolve(new Blob(['png']));
    expect(await first).toBe('blob:1');
    expect(await second).toBe('blob:1');
    expect(await store.load(chart(), size)).toBe('blob:1');
    expect(calls).toHaveLength(1);

    // A new revision of the chart: a new picture; the old URL is revoked once it is ready.
    const newer = store.load(
      chart({ updated_at: '2026-11-28T00:00:00Z' }),
      size
    );
    expect(store.current(ID)).toBe('blob:1');
    expect(objects.revoked).toEqual([]);
    calls[1].resolve(new Blob(['png2']));
    expect(await newer).toBe('blob:2');
    expect(objects.revoked).toEqual(['blob:1']);
    expect([...objects.live]).toEqual(['blob:2']);
  });

  it('revalidates after invalidate, keeping the old picture until then', async () => {
    const { calls, fetcher } = manualFetcher();
    const objects = fakeURLs();
    const store = new ThumbnailStore(fetcher, objects.urls);
    const loading = store.load(chart(), size);
    calls[0].resolve(new Blob(['a']));
    await loading;
    expect(calls[0].revalidate).toBe(false);
    store.invalidate();
    const again = store.load(chart(), size);
    expect(calls).toHaveLength(2);
    expect(calls[1].revalidate).toBe(true);
    expect(store.current(ID)).toBe('blob:1');
    calls[1].resolve(new Blob(['b']));
    expect(await again).toBe('blob:2');
    expect(objects.revoked).toEqual(['blob:1']);
    // Fresh again: no third request.
    await store.load(chart(), size);
    expect(calls).toHaveLength(2);
  });

  it('passes failures on without keeping them, and frees URLs on retain and dispose', async () => {
    const { calls, fetcher } = manualFetcher();
    const objects = fakeURLs();
    const store = new ThumbnailStore(fetcher, objects.urls);
    const failing = store.load(chart(), size);
    calls[0].reject(new Error('the chart draws too many rows'));
    await expect(failing).rejects.toThrow('too many rows');
    const retry = store.load(chart(), size); // a failure is not cached
    expect(calls).toHaveLength(2);
    calls[1].resolve(new Blob(['a']));
    await retry;
    const other = chart({ id: 'B'.repeat(22) });
    const second = store.load(other, size);
    calls[2].resolve(new Blob(['b']));
    await second;
    expect(store.size).toBe(2);
    store.retain([other.id]);
    expect(objects.revoked).toEqual(['blob:1']);
    expect(store.size).toBe(1);
    store.dispose();
    expect(objects.live.size).toBe(0);
    await expect(store.load(chart(), size)).rejects.toThrow('closed');
  });
});

describe('LazyThumbnails', () => {
  it('loads a cell only when it scrolls into view, and shows errors as a titled glyph', async () => {
    const { calls, fetcher } = manualFetcher();
    const store = new ThumbnailStore(fetcher, fakeURLs().urls);
    let callback: IntersectionObserverCallback | null = null;
    const observed: Element[] = [];
    const observer = {
      observe: (el: Element) => observed.push(el),
      unobserve: () => undefined,
      disconnect: () => undefined
    } as unknown as IntersectionObserver;
    const lazy = new LazyThumbnails(
      store,
      { width: 192, height: 120 },
      null,
      cb => {
        callback = cb;
        return observer;
      }
    );
    const good = chart();
    const bad = chart({ id: 'B'.repeat(22), name: 'Broken' });
    const goodRow = chartRow(good, new Map(), noActions);
    const badRow = chartRow(bad, new Map(), noActions);
    const goodCell = goodRow.querySelector<HTMLElement>(
      '[data-testid="chart-thumbnail"]'
    )!;
    const badCell = badRow.querySelector<HTMLElement>(
      '[data-testid="chart-thumbnail"]'
    )!;
    lazy.observe(goodCell, good);
    lazy.observe(badCell, bad);
    expect(calls).toHaveLength(0); // nothing visible yet
    expect(
      goodCell.querySelector('[data-testid="chart-thumbnail-spinner"]')
    ).not.toBeNull();

    const entry = (target: Element) =>
      ({
        target,
        isIntersecting: true
      }) as unknown as IntersectionObserverEntry;
    callback!([entry(goodCell), entry(badCell)], observer);
    expect(calls.map(c => c.id)).toEqual([good.id, bad.id]);
    calls[0].resolve(new Blob(['png']));
    calls[1].reject(new Error('the chart draws 60,000 rows'));
    await new Promise(resolve => setTimeout(resolve, 0));

    const img = goodCell.querySelector('img')!;
    expect(img.getAttribute('src')).toBe('blob:1');
    expect(img.alt).toBe('Thumbnail of Revenue by region');
    expect(goodCell.classList.contains('jp-mod-pending')).toBe(false);
    expect(
      badCell.querySelector('[data-testid="chart-thumbnail-error"]')
    ).not.toBeNull();
    expect(badCell.title).toBe('No thumbnail: the chart draws 60,000 rows');
    expect(badCell.classList.contains('jp-mod-error')).toBe(true);
  });
});

describe('export', () => {
  it('offers PNG, SVG, PDF, CSV and JSON and builds the request body', () => {
    expect(EXPORT_FORMATS.map(e => e.format)).toEqual([
      'png',
      'svg',
      'pdf',
      'csv',
      'json'
    ]);
    expect(exportBody(ID, 'png')).toEqual({
      chart_id: ID,
      format: 'png',
      scale: 2
    });
    expect(exportBody(ID, 'csv')).toEqual({ chart_id: ID, format: 'csv' });
    expect(exportBody(ID, 'json')).toEqual({ chart_id: ID, format: 'json' });
    expect(() => exportBody(ID, 'exe' as 'png')).toThrow(
      'Unknown export format'
    );
  });
});

describe('list filtering and labels', () => {
  const charts = [
    chart({
      id: 'A'.repeat(22),
      name: 'Revenue by region',
      query_id: 'q1'.repeat(11)
    }),
    chart({
      id: 'B'.repeat(22),
      name: 'Orders over time',
      spec: { type: 'line', encodings: {} },
      query_id: 'q2'.repeat(11)
    }),
    chart({
      id: 'C'.repeat(22),
      name: 'Basket sizes',
      spec: { type: 'histogram', encodings: {} },
      description: 'distribution of revenue per order',
      query_id: 'q2'.repeat(11)
    })
  ];
  const names = new Map<string, string | null>([
    ['q1'.repeat(11), 'Regional sales'],
    ['q2'.repeat(11), null]
  ]);

  it('matches every word against name, type, description and query name', () => {
    const ids = (text: string) =>
      filterCharts(charts, text, names).map(c => c.id[0]);
    expect(ids('')).toEqual(['A', 'B', 'C']);
    expect(ids('  ')).toEqual(['A', 'B', 'C']);
    expect(ids('REVENUE')).toEqual(['A', 'C']);
    expect(ids('line')).toEqual(['B']);
    expect(ids('regional')).toEqual(['A']);
    expect(ids('revenue histogram')).toEqual(['C']);
    expect(ids('nothing')).toEqual([]);
  });

  it('labels queries, counts and notebook code', () => {
    expect(queryLabel('q1'.repeat(11), names)).toBe('Regional sales');
    expect(queryLabel('q2'.repeat(11), names)).toBe(
      'Query not shared with you'
    );
    expect(queryLabel('unknown', names)).toBe('Loading query…');
    expect(countLabel(3, 3, 3)).toBe('3 charts');
    expect(countLabel(1, 1, 1)).toBe('1 chart');
    expect(countLabel(50, 50, 120)).toBe('50 of 120 charts loaded');
    expect(countLabel(2, 3, 3)).toBe('2 of 3 charts match');
    expect(countLabel(2, 50, 120)).toBe(
      '2 of 50 loaded charts match (120 in all)'
    );
    expect(openChartCode(ID)).toBe(
      `from analytics_ext import widgets\nwidgets.open_chart("${ID}")`
    );
    expect(() => openChartCode('"); import os #')).toThrow('Not a chart id');
  });

  it('builds the apply request without blank bindings', () => {
    expect(
      applyRequest({
        templateId: ID,
        queryId: 'Q'.repeat(22),
        name: '  Weekly orders ',
        bindings: { x: ' order_date ', y: '', color: '  ' }
      })
    ).toEqual({
      templateId: ID,
      body: {
        query_id: 'Q'.repeat(22),
        name: 'Weekly orders',
        bindings: { x: 'order_date' }
      }
    });
    expect(checkName('   ')).toBe('Enter a name.');
    expect(checkName('x'.repeat(201))).toContain('200');
    expect(checkName('ok')).toBeNull();
  });
});

describe('chart rows', () => {
  it('renders a name with markup as text', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const row = chartRow(
      chart({ name: evil, description: evil }),
      new Map([[chart().query_id, evil]]),
      noActions
    );
    const name = row.querySelector('[data-testid="chart-name"]')!;
    expect(name.textContent).toBe(evil);
    expect(name.children).toHaveLength(0);
    expect(row.querySelector('[data-testid="chart-query"]')!.textContent).toBe(
      evil
    );
    // The only image in the row is none at all until the thumbnail loads.
    expect(row.querySelectorAll('img')).toHaveLength(0);
    expect(row.getAttribute('aria-label')).toBe(evil);
  });

  it('wires the buttons and disables what the permission does not allow', () => {
    const called: string[] = [];
    const actions: IRowActions = {
      open: c => called.push(`open ${c.name}`),
      exportMenu: (c, anchor) =>
        called.push(`export ${c.name} ${anchor.dataset.testid}`),
      share: c => called.push(`share ${c.name}`),
      rename: c => called.push(`rename ${c.name}`),
      remove: c => called.push(`remove ${c.name}`)
    };
    const row = chartRow(chart({ name: 'Mine' }), new Map(), actions);
    for (const id of [
      'chart-open',
      'chart-export',
      'chart-share',
      'chart-rename',
      'chart-delete'
    ]) {
      row.querySelector<HTMLButtonElement>(`[data-testid="${id}"]`)!.click();
    }
    expect(called).toEqual([
      'open Mine',
      'export Mine chart-export',
      'share Mine',
      'rename Mine',
      'remove Mine'
    ]);
    const viewOnly = chartRow(
      chart({ permission: 'view' }),
      new Map(),
      actions
    );
    const button = (id: string) =>
      viewOnly.querySelector<HTMLButtonElement>(`[data-testid="${id}"]`)!;
    expect(button('chart-open').disabled).toBe(false);
    expect(button('chart-export').disabled).toBe(false);
    expect(button('chart-share').disabled).toBe(true);
    expect(button('chart-rename').disabled).toBe(true);
    expect(button('chart-delete').disabled).toBe(true);
    expect(button('chart-delete').title).toContain('manage');
  });
});
