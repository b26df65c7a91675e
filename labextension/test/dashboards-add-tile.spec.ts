import { AnalyticsAPIError } from '../src/api';
import type {
  IDashboard,
  IDashboardLayoutItem,
  IDashboardTile
} from '../src/api/dashboards';
import {
  appendTilePatch,
  bottomOf,
  checkRoom,
  checkTileTitle,
  editableDashboards,
  isTileKind,
  MAX_TILES,
  newDashboardBody,
  nextPosition,
  tileFor,
  uniqueTileId
} from '../src/panels/dashboards/add-tile-model';
import {
  AddTileBody,
  checkAddTile,
  submitAddTile
} from '../src/panels/dashboards/add-tile';

const CHART_ID = 'CCCCCCCCCCCCCCCCCCCCCC';
const QUERY_ID = 'QQQQQQQQQQQQQQQQQQQQQQ';

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

function markdown(id: string): IDashboardTile {
  return { id, type: 'markdown', text: id };
}

function place(
  tile: string,
  x: number,
  y: number,
  w: number,
  h: number
): IDashboardLayoutItem {
  return { tile, x, y, w, h };
}

/** The server's `check_board` rules on the layout: ids, one place each, in the grid, no overlap. */
function boardProblems(
  tiles: IDashboardTile[],
  layout: IDashboardLayoutItem[]
): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const tile of tiles) {
    if (ids.has(tile.id)) {
      problems.push(`duplicate tile ${tile.id}`);
    }
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(tile.id)) {
      problems.push(`bad id ${tile.id}`);
    }
    ids.add(tile.id);
  }
  const taken = new Map<string, string>();
  const placed = new Set<string>();
  for (const item of layout) {
    if (!ids.has(item.tile) || placed.has(item.tile)) {
      problems.push(`bad layout item ${item.tile}`);
    }
    placed.add(item.tile);
    if (item.x < 0 || item.x + item.w > 12 || item.y < 0 || item.y > 1000) {
      problems.push(`${item.tile} outside the grid`);
    }
    for (let x = item.x; x < item.x + item.w; x++) {
      for (let y = item.y; y < item.y + item.h; y++) {
        const key = `${x},${y}`;
        if (taken.has(key)) {
          problems.push(`${item.tile} overlaps ${taken.get(key)} at ${key}`);
        }
        taken.set(key, item.tile);
      }
    }
  }
  for (const id of ids) {
    if (!placed.has(id)) {
      problems.push(`${id} has no place`);
    }
  }
  return problems;
}

describe('where a new tile goes', () => {
  it('starts an empty board at the top left', () => {
    expect(bottomOf([])).toBe(0);
    expect(nextPosition([], 'chart')).toEqual({ x: 0, y: 0, w: 12, h: 4 });
    expect(nextPosition([], 'query')).toEqual({ x: 0, y: 0, w: 12, h: 4 });
  });

  it('goes below the lowest bottom edge of a ragged layout, in any item order', () => {
    // A tall tile on the left ends lower (row 9) than the two on the right (row 5),
    // and it is listed first: the last item's bottom is not the board's bottom.
    const layout = [
      place('tall', 0, 0, 4, 9),
      place('right-top', 4, 0, 8, 2),
      place('right-low', 4, 2, 8, 3)
    ];
    expect(bottomOf(layout)).toBe(9);
    expect(nextPosition(layout, 'chart')).toEqual({ x: 0, y: 9, w: 12, h: 4 });
    expect(bottomOf([...layout].reverse())).toBe(9);
  });

  it('sees a gap left between tiles as not free to squeeze into (always below)', () => {
    const layout = [place('a', 0, 0, 6, 2), place('b', 0, 10, 3, 1)];
    expect(nextPosition(layout, 'query').y).toBe(11);
  });
});

describe('tile ids', () => {
  it('reads like the name, in the server pattern', () => {
    expect(uniqueTileId({ kind: 'chart', name: 'Revenue by Region' }, [])).toBe(
      'chart-revenue-by-region'
    );
    expect(
      uniqueTileId({ kind: 'query', name: 'Crème brûlée — sales!' }, [])
    ).toBe('query-creme-brulee-sales');
  });

  it('falls back to the kind when the name has no ASCII letters or digits', () => {
    expect(uniqueTileId({ kind: 'chart', name: '売上 😀' }, [])).toBe('chart');
    expect(uniqueTileId({ kind: 'query', name: '' }, [markdown('query')])).toBe(
      'query-2'
    );
  });

  it('adds -2, -3… past ids of tiles and of layout items', () => {
    const tiles = [markdown('chart-sales'), markdown('chart-sales-2')];
    expect(uniqueTileId({ kind: 'chart', name: 'Sales' }, tiles)).toBe(
      'chart-sales-3'
    );
    expect(
      uniqueTileId(
        { kind: 'chart', name: 'Sales' },
        [],
        [{ tile: 'chart-sales' }]
      )
    ).toBe('chart-sales-2');
  });

  it('keeps long ids within 40 characters, suffix included', () => {
    const name = 'a very long chart name that goes on and on and on';
    const first = uniqueTileId({ kind: 'chart', name }, []);
    expect(first.length).toBeLessThanOrEqual(40);
    expect(first).toMatch(/^chart-a-very-long/);
    expect(first).not.toMatch(/-$/);
    const taken = [markdown(first)];
    const second = uniqueTileId({ kind: 'chart', name }, taken);
    expect(second).toMatch(/-2$/);
    expect(second.length).toBeLessThanOrEqual(40);
    const many: IDashboardTile[] = [markdown(first)];
    for (let n = 2; n <= 12; n++) {
      many.push(markdown(uniqueTileId({ kind: 'chart', name }, many)));
    }
    expect(new Set(many.map(tile => tile.id)).size).toBe(12);
    expect(many.every(tile => /^[A-Za-z0-9_-]{1,40}$/.test(tile.id))).toBe(
      true
    );
  });
});

describe('the PATCH adding a tile', () => {
  it('keeps every tile, places the new one below, on the version seen', () => {
    const tiles: IDashboardTile[] = [
      markdown('intro'),
      {
        id: 'chart-sales',
        type: 'chart',
        chart_id: CHART_ID,
        title: 'Sales',
        parameters: {}
      }
    ];
    const layout = [
      place('intro', 0, 0, 8, 2),
      place('chart-sales', 0, 2, 6, 6)
    ];
    const board = dashboard({ tiles, layout, version: 7 });
    const patch = appendTilePatch(
      board,
      { kind: 'chart', id: CHART_ID, name: 'Sales' },
      ' Sales again '
    );
    expect(patch.base_version).toBe(7);
    expect(patch.tiles!.slice(0, 2)).toEqual(tiles);
    expect(patch.tiles![2]).toEqual({
      id: 'chart-sales-2',
      type: 'chart',
      title: 'Sales again',
      chart_id: CHART_ID
    });
    expect(patch.layout!.slice(0, 2)).toEqual(layout);
    expect(patch.layout![2]).toEqual(place('chart-sales-2', 0, 8, 12, 4));
    expect(boardProblems(patch.tiles!, patch.layout!)).toEqual([]);
    // The board it was made from is untouched (a failed save can be retried).
    expect(board.tiles).toHaveLength(2);
    expect(board.layout).toHaveLength(2);
  });

  it('adds a query tile pointing at the query', () => {
    const patch = appendTilePatch(
      dashboard(),
      { kind: 'query', id: QUERY_ID, name: 'Top' },
      'Top'
    );
    expect(patch.tiles).toEqual([
      { id: 'query-top', type: 'query', title: 'Top', query_id: QUERY_ID }
    ]);
    expect(patch.layout).toEqual([place('query-top', 0, 0, 12, 4)]);
  });

  it('fills a board tile by tile without overlap', () => {
    let board = dashboard({
      tiles: [markdown('a'), markdown('b')],
      layout: [place('a', 0, 0, 3, 7), place('b', 3, 0, 9, 2)]
    });
    for (let n = 0; n < 10; n++) {
      const kind = n % 2 === 0 ? 'chart' : 'query';
      const patch = appendTilePatch(
        board,
        { kind, id: CHART_ID, name: 'Same name' },
        'x'
      );
      board = {
        ...board,
        tiles: patch.tiles!,
        layout: patch.layout!,
        version: board.version + 1
      };
      expect(boardProblems(board.tiles, board.layout)).toEqual([]);
    }
    expect(board.tiles).toHaveLength(12);
  });
});

describe('a new dashboard with the tile', () => {
  it('holds just that tile at the top', () => {
    expect(
      newDashboardBody(
        '  Walk board ',
        { kind: 'chart', id: CHART_ID, name: 'Sales' },
        'Sales'
      )
    ).toEqual({
      title: 'Walk board',
      tiles: [
        { id: 'chart-sales', type: 'chart', title: 'Sales', chart_id: CHART_ID }
      ],
      layout: [place('chart-sales', 0, 0, 12, 4)]
    });
  });
});

describe('checks before sending', () => {
  it('lists only dashboards the user may edit, by title', () => {
    const items = [
      dashboard({ id: '1', title: 'Zeta', permission: 'edit' }),
      dashboard({ id: '2', title: 'Alpha', permission: 'view' }),
      dashboard({ id: '3', title: 'beta', permission: 'manage' })
    ];
    expect(editableDashboards(items).map(item => item.title)).toEqual([
      'beta',
      'Zeta'
    ]);
  });

  it('refuses a full board and a board with no rows left', () => {
    const full = dashboard({
      title: 'Full',
      tiles: Array.from({ length: MAX_TILES }, (_, n) => markdown(`t${n}`)),
      layout: Array.from({ length: MAX_TILES }, (_, n) =>
        place(`t${n}`, 0, n, 12, 1)
      )
    });
    expect(checkRoom(full, 'chart')).toMatch(/already has 50 tiles/);
    const deep = dashboard({
      title: 'Deep',
      tiles: [markdown('d')],
      layout: [place('d', 0, 1000, 12, 1)]
    });
    expect(checkRoom(deep, 'query')).toMatch(/no free row/);
    expect(checkRoom(dashboard(), 'chart')).toBeNull();
  });

  it('allows an empty tile title but not an over-long one', () => {
    expect(checkTileTitle('')).toBeNull();
    expect(checkTileTitle('x'.repeat(200))).toBeNull();
    expect(checkTileTitle('x'.repeat(201))).toMatch(/201 characters/);
  });

  it('knows the kinds', () => {
    expect(isTileKind('chart')).toBe(true);
    expect(isTileKind('query')).toBe(true);
    expect(isTileKind('markdown')).toBe(false);
    expect(isTileKind(undefined)).toBe(false);
    expect(
      tileFor({ kind: 'query', id: QUERY_ID, name: 'n' }, 't', '').query_id
    ).toBe(QUERY_ID);
  });
});

describe('the Add to dashboard form', () => {
  type Body = AddTileBody;

  const source = { kind: 'chart' as const, id: CHART_ID, name: '<b>Sales</b>' };
  const board = dashboard({
    id: 'B'.repeat(22),
    title: 'Board <i>one</i>',
    version: 3,
    tiles: [markdown('intro')],
    layout: [place('intro', 0, 0, 12, 2)]
  });

  function field(
    body: Body,
    testId: string
  ): HTMLInputElement & HTMLSelectElement {
    return body.node.querySelector(`[data-testid="${testId}"]`)!;
  }

  function recording(answers: {
    update?: (id: string, patch: unknown) => Promise<IDashboard>;
    get?: (id: string) => Promise<IDashboard>;
  }) {
    const calls: string[] = [];
    const sent: unknown[] = [];
    return {
      calls,
      sent,
      server: {
        create: (created: unknown) => {
          calls.push('create');
          sent.push(created);
          return Promise.resolve(
            dashboard({ id: 'N'.repeat(22), title: 'New' })
          );
        },
        update: (id: string, patch: unknown) => {
          calls.push(`update ${id}`);
          sent.push(patch);
          return answers.update
            ? answers.update(id, patch)
            : Promise.resolve(board);
        },
        get: (id: string) => {
          calls.push(`get ${id}`);
          return answers.get ? answers.get(id) : Promise.resolve(board);
        }
      }
    };
  }

  it('shows names as text, defaults the tile title, says where the tile goes', () => {
    const body = new AddTileBody(source, [board]);
    expect(field(body, 'add-tile-source').textContent).toBe('<b>Sales</b>');
    expect(body.node.querySelector('b, i')).toBeNull();
    expect(field(body, 'add-tile-title').value).toBe('<b>Sales</b>');
    const select = field(body, 'add-tile-dashboard');
    expect([...select.options].map(option => option.textContent)).toEqual([
      'Board <i>one</i>',
      'New dashboard…'
    ]);
    expect(select.value).toBe(board.id);
    expect(field(body, 'add-tile-new-name').closest('label')!.hidden).toBe(
      true
    );
    expect(field(body, 'add-tile-placement').textContent).toBe(
      '1 tile (version 3): the tile goes below them, at row 3.'
    );
    select.value = '';
    select.dispatchEvent(new Event('change'));
    expect(field(body, 'add-tile-new-name').closest('label')!.hidden).toBe(
      false
    );
  });

  it('starts on New dashboard when there is nothing to edit, and needs its name', () => {
    const body = new AddTileBody(source, []);
    expect(field(body, 'add-tile-dashboard').value).toBe('');
    expect(checkAddTile(body, body.getValue())).toBe(
      'A dashboard needs a name.'
    );
    field(body, 'add-tile-new-name').value = 'Walk board';
    expect(checkAddTile(body, body.getValue())).toBeNull();
  });

  it('creates a new dashboard holding the tile', async () => {
    const body = new AddTileBody(source, [board]);
    field(body, 'add-tile-dashboard').value = '';
    field(body, 'add-tile-new-name').value = ' Walk board ';
    field(body, 'add-tile-title').value = 'Sales by region';
    const { server, calls, sent } = recording({});
    await submitAddTile(server, body, body.getValue());
    expect(calls).toEqual(['create']);
    expect(sent[0]).toEqual({
      title: 'Walk board',
      tiles: [
        {
          id: 'chart-b-sales-b',
          type: 'chart',
          title: 'Sales by region',
          chart_id: CHART_ID
        }
      ],
      layout: [place('chart-b-sales-b', 0, 0, 12, 4)]
    });
  });

  it('patches the chosen dashboard on the version it showed', async () => {
    const body = new AddTileBody(source, [board]);
    const { server, calls, sent } = recording({});
    await submitAddTile(server, body, body.getValue());
    expect(calls).toEqual([`update ${board.id}`]);
    expect(sent[0]).toMatchObject({
      base_version: 3,
      layout: [place('intro', 0, 0, 12, 2), { x: 0, y: 2 }]
    });
  });

  it('on a 409 reloads the dashboard, says so, and the retry uses the new version', async () => {
    const body = new AddTileBody(source, [board]);
    const newer = dashboard({
      ...board,
      version: 5,
      tiles: [markdown('intro'), markdown('chart-b-sales-b')],
      layout: [
        place('intro', 0, 0, 12, 2),
        place('chart-b-sales-b', 0, 2, 12, 6)
      ]
    });
    let refuse = true;
    const { server, calls, sent } = recording({
      update: () =>
        refuse
          ? Promise.reject(
              new AnalyticsAPIError(
                new Response('{}', { status: 409 }),
                'the dashboard is at version 5, not 3',
                null
              )
            )
          : Promise.resolve(newer),
      get: () => Promise.resolve(newer)
    });
    await expect(submitAddTile(server, body, body.getValue())).rejects.toThrow(
      /Someone else saved “Board <i>one<\/i>” since this dialog loaded it; the server said: the dashboard is at version 5, not 3\n[\s\S]*now version 5, 2 tiles[\s\S]*press Add/
    );
    expect(calls).toEqual([`update ${board.id}`, `get ${board.id}`]);
    expect(field(body, 'add-tile-placement').textContent).toMatch(
      /version 5\): the tile goes below them, at row 9/
    );
    refuse = false;
    await submitAddTile(server, body, body.getValue());
    expect(sent[1]).toMatchObject({
      base_version: 5,
      tiles: [
        { id: 'intro' },
        { id: 'chart-b-sales-b' },
        { id: 'chart-b-sales-b-2' }
      ],
      layout: [{}, {}, { tile: 'chart-b-sales-b-2', y: 8 }]
    });
  });

  it('passes other refusals on unchanged (the dialog shows the server message)', async () => {
    const body = new AddTileBody(source, [board]);
    const refusal = new AnalyticsAPIError(
      new Response('{}', { status: 422 }),
      "tiles.1.chart_id: chart 'x' not found or not visible to you",
      null
    );
    const { server, calls } = recording({
      update: () => Promise.reject(refusal)
    });
    await expect(submitAddTile(server, body, body.getValue())).rejects.toBe(
      refusal
    );
    expect(calls).toEqual([`update ${board.id}`]);
  });
});
