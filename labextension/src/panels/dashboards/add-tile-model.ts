/**
 * The pure logic of "Add to dashboard…": which dashboards can take a tile,
 * where a new tile goes on the 12-column grid (below everything already
 * there, so it can never overlap a tile), a tile id unique on the board, and
 * the PATCH or POST body that adds it. No DOM, no network: Jest covers it.
 *
 * The server checks the same rules (`schemas/dashboards.py` `check_board`,
 * tile id pattern, 50 tiles, `y` at most 1000); checking them here first lets
 * the dialog say what is wrong before anything is sent.
 */
import type {
  IDashboard,
  IDashboardCreate,
  IDashboardLayoutItem,
  IDashboardPatch,
  IDashboardTile
} from '../../api/dashboards';
import { allows } from './model';

/** The command's id; charts and queries rows run it with `{kind, id, name}`. */
export const ADD_TO_DASHBOARD_COMMAND = 'analytics-ext:add-to-dashboard';

export const GRID_COLUMNS = 12;
/** Most tiles one dashboard holds (`MAX_TILES`). */
export const MAX_TILES = 50;
/** The largest `y` the server accepts for a layout item. */
export const MAX_Y = 1000;
/** Longest tile title the server accepts. */
export const MAX_TILE_TITLE = 200;
/** Tile ids: `^[A-Za-z0-9_-]{1,40}$` on the server. */
export const MAX_TILE_ID = 40;

/** What can be put on a dashboard from the Charts and Queries sections. */
export type TileKind = 'chart' | 'query';

/** The saved object a tile will show. */
export interface ITileSource {
  kind: TileKind;
  id: string;
  /** Its name: the tile title's default. */
  name: string;
}

/** A tile's size by kind: full width, four 90px rows (a chart or a page of a table). */
export const TILE_SIZE: Record<TileKind, { w: number; h: number }> = {
  chart: { w: GRID_COLUMNS, h: 4 },
  query: { w: GRID_COLUMNS, h: 4 }
};

/** Whether `value` names a kind of tile this command adds. */
export function isTileKind(value: unknown): value is TileKind {
  return value === 'chart' || value === 'query';
}

/**
 * The dashboards the user may add a tile to (level edit or manage), by
 * title; the others are left out rather than refused after the fact.
 */
export function editableDashboards(items: IDashboard[]): IDashboard[] {
  return items
    .filter(item => allows(item.permission, 'edit'))
    .sort((a, b) => a.title.localeCompare(b.title) || a.id.localeCompare(b.id));
}

/**
 * The first grid row below every placed tile: the largest `y + h` over the
 * layout, whatever order the items come in and however ragged their bottoms
 * are (0 for an empty board).
 */
export function bottomOf(layout: IDashboardLayoutItem[]): number {
  return layout.reduce((bottom, item) => Math.max(bottom, item.y + item.h), 0);
}

/**
 * Where a new `kind` tile goes: column 0 of the first free row below the
 * existing layout, at the kind's size. Every cell at or below that row is
 * free, so it overlaps nothing.
 */
export function nextPosition(
  layout: IDashboardLayoutItem[],
  kind: TileKind
): { x: number; y: number; w: number; h: number } {
  return { x: 0, y: bottomOf(layout), ...TILE_SIZE[kind] };
}

/**
 * A readable id for a new tile (`chart-revenue-by-region`, ASCII letters,
 * digits and dashes from the name, at most 40 characters), made unique
 * against the ids of the existing tiles and layout items by a `-2`, `-3`…
 * suffix (the stem shortened so the suffix fits).
 */
export function uniqueTileId(
  source: Pick<ITileSource, 'kind' | 'name'>,
  tiles: Pick<IDashboardTile, 'id'>[],
  layout: Pick<IDashboardLayoutItem, 'tile'>[] = []
): string {
  const taken = new Set<string>([
    ...tiles.map(tile => tile.id),
    ...layout.map(item => item.tile)
  ]);
  const slug = source.name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const stem = trimId(
    slug ? `${source.kind}-${slug}` : source.kind,
    MAX_TILE_ID
  );
  if (!taken.has(stem)) {
    return stem;
  }
  for (let number = 2; ; number++) {
    const suffix = `-${number}`;
    const candidate = trimId(stem, MAX_TILE_ID - suffix.length) + suffix;
    if (!taken.has(candidate)) {
      return candidate;
    }
  }
}

function trimId(id: string, length: number): string {
  return id.slice(0, length).replace(/-+$/, '');
}

/** The new tile for `source`, titled `title`. */
export function tileFor(
  source: ITileSource,
  id: string,
  title: string
): IDashboardTile {
  return source.kind === 'chart'
    ? { id, type: 'chart', title, chart_id: source.id }
    : { id, type: 'query', title, query_id: source.id };
}

/** Why a tile title will be refused, or null (empty is allowed: no title bar text). */
export function checkTileTitle(title: string): string | null {
  const length = title.trim().length;
  return length > MAX_TILE_TITLE
    ? `The tile title is ${length} characters long; at most ${MAX_TILE_TITLE} are allowed.`
    : null;
}

/** Why `dashboard` cannot take one more tile, or null. */
export function checkRoom(
  dashboard: Pick<IDashboard, 'title' | 'tiles' | 'layout'>,
  kind: TileKind
): string | null {
  if (dashboard.tiles.length >= MAX_TILES) {
    return `“${dashboard.title}” already has ${MAX_TILES} tiles, the most a dashboard holds.`;
  }
  if (nextPosition(dashboard.layout, kind).y > MAX_Y) {
    return `“${dashboard.title}” has no free row left below its tiles (rows end at ${MAX_Y}).`;
  }
  return null;
}

/**
 * The PATCH adding `source` below the tiles of `dashboard`: every existing
 * tile and layout item as the server sent them, plus the new ones, on the
 * version the user saw (`base_version`: the server answers 409 when someone
 * saved since, instead of silently dropping their change).
 */
export function appendTilePatch(
  dashboard: Pick<IDashboard, 'tiles' | 'layout' | 'version'>,
  source: ITileSource,
  title: string
): IDashboardPatch {
  const id = uniqueTileId(source, dashboard.tiles, dashboard.layout);
  return {
    tiles: [...dashboard.tiles, tileFor(source, id, title.trim())],
    layout: [
      ...dashboard.layout,
      { tile: id, ...nextPosition(dashboard.layout, source.kind) }
    ],
    base_version: dashboard.version
  };
}

/** The POST creating a dashboard `dashboardTitle` holding just this tile. */
export function newDashboardBody(
  dashboardTitle: string,
  source: ITileSource,
  title: string
): IDashboardCreate {
  const id = uniqueTileId(source, []);
  return {
    title: dashboardTitle.trim(),
    tiles: [tileFor(source, id, title.trim())],
    layout: [{ tile: id, ...nextPosition([], source.kind) }]
  };
}
