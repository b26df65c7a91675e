/**
 * The pure logic of the Dashboards section: what a row says, which actions a
 * level allows, where the viewer lives under the server's base URL, what an
 * exported file is called, the notebook code. No DOM, no network, so Jest
 * covers it directly.
 */
import { URLExt } from '@jupyterlab/coreutils';

import type {
  DashboardExportFormat,
  DashboardLevel,
  IDashboard
} from '../../api/dashboards';

/** The viewer page's prefix under the server's base URL (`dashboards/urls.py`). */
export const VIEWER_PREFIX = 'analytics/dashboards';

const LEVELS: DashboardLevel[] = ['view', 'edit', 'manage'];

/** Whether `level` is at least `needed` (view < edit < manage). */
export function allows(level: string, needed: DashboardLevel): boolean {
  const have = LEVELS.indexOf(level as DashboardLevel);
  return have >= 0 && have >= LEVELS.indexOf(needed);
}

/** What the caller may do with a dashboard, from its `permission`. */
export interface IDashboardActions {
  /** Open the published view (in Lab or a browser tab). */
  open: boolean;
  publish: boolean;
  unpublish: boolean;
  rename: boolean;
  share: boolean;
  remove: boolean;
  export: boolean;
}

export function actionsFor(dashboard: IDashboard): IDashboardActions {
  const level = dashboard.permission;
  const published = dashboard.published_version !== null;
  return {
    open: published,
    publish: allows(level, 'edit'),
    unpublish: published && allows(level, 'edit'),
    rename: allows(level, 'edit'),
    share: allows(level, 'manage'),
    remove: allows(level, 'manage'),
    export: allows(level, 'view')
  };
}

/** Where a row stands with its viewers. */
export type PublishState = 'draft' | 'published' | 'changed';

/**
 * `draft`: never published; `published`: viewers see the current save;
 * `changed`: published, but saved again since (viewers see an older version).
 */
export function publishState(dashboard: IDashboard): PublishState {
  const published = dashboard.published_version;
  if (published === null) {
    return 'draft';
  }
  return published >= dashboard.version ? 'published' : 'changed';
}

/** The row's short state text: `Draft`, `Published v3`, `Published v3 · draft v5`. */
export function publishStateText(dashboard: IDashboard): string {
  const state = publishState(dashboard);
  if (state === 'draft') {
    return `Draft v${dashboard.version} · not published`;
  }
  if (state === 'published') {
    return `Published v${dashboard.published_version}`;
  }
  return `Published v${dashboard.published_version} · changes since (v${dashboard.version})`;
}

/** `1 tile`, `4 tiles`, `No tiles`. */
export function tileCountText(count: number): string {
  if (count === 0) {
    return 'No tiles';
  }
  return count === 1 ? '1 tile' : `${count} tiles`;
}

/**
 * Whose a dashboard is, from the caller's side: null for the caller's own,
 * else `Shared by <name>` (or a plain `Shared with you` when the server does
 * not name the owner).
 */
export function ownerText(
  dashboard: IDashboard,
  currentUserId: string | null
): string | null {
  if (currentUserId !== null && dashboard.owner_id === currentUserId) {
    return null;
  }
  if (dashboard.owner_id === null) {
    return 'Shared with you (owner removed)';
  }
  if (currentUserId === null) {
    return null;
  }
  return dashboard.owner_name
    ? `Shared by ${dashboard.owner_name}`
    : 'Shared with you';
}

/**
 * The viewer page of `dashboardId` on the server this Lab talks to
 * (`{baseUrl}analytics/dashboards/<id>`). The Lab tab uses this rather than
 * the server's `viewer_url` (built from the configured public URL): the
 * viewer only allows framing by its own origin, and this is the origin the
 * Lab page came from, base URL subpath included.
 */
export function viewerUrl(baseUrl: string, dashboardId: string): string {
  return URLExt.join(baseUrl, VIEWER_PREFIX, encodeURIComponent(dashboardId));
}

/** The id of the Lab tab showing one dashboard, so opening it again activates it. */
export function viewerWidgetId(dashboardId: string): string {
  return `analytics-ext:dashboard-view:${dashboardId}`;
}

/**
 * A file name for an export when the server's `Content-Disposition` gives
 * none: the title's letters, digits and dashes (any script), else `dashboard`.
 */
export function exportFileName(
  title: string,
  format: DashboardExportFormat
): string {
  const stem = title
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}_-]+/gu, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 100)
    .replace(/[-_]+$/g, '');
  return `${stem || 'dashboard'}.${format}`;
}

/** The code cell "Open in notebook" inserts: the call the published notebook runs. */
export function notebookCode(dashboardId: string): string {
  return (
    'from analytics_ext.dashboards.view import show\n' +
    `show(${JSON.stringify(dashboardId)})`
  );
}

/**
 * Dashboards whose title, description, tags or owner name contain every
 * word of `search` (case-insensitive); all of them for a blank search.
 */
export function filterDashboards(
  items: IDashboard[],
  search: string
): IDashboard[] {
  const words = search
    .toLowerCase()
    .split(/\s+/)
    .filter(word => word.length > 0);
  if (words.length === 0) {
    return items;
  }
  return items.filter(dashboard => {
    const haystack = [
      dashboard.title,
      dashboard.description,
      dashboard.owner_name ?? '',
      ...dashboard.tags
    ]
      .join('\n')
      .toLowerCase();
    return words.every(word => haystack.includes(word));
  });
}

/** A title the server will take (1..200 characters after trimming), or why not. */
export function checkTitle(title: string): string | null {
  const trimmed = title.trim();
  if (trimmed.length === 0) {
    return 'A dashboard needs a name.';
  }
  if (trimmed.length > 200) {
    return `The name is ${trimmed.length} characters long; at most 200 are allowed.`;
  }
  return null;
}
