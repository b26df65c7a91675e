/**
 * Command ids, widget ids and the shapes of the REST payloads.
 *
 * This module imports nothing of ours, so any module may import it without
 * forming an import cycle (panels never import `index.ts`).
 */

/** The npm package name; also the prefix of every id below. */
export const PLUGIN_NAMESPACE = 'analytics-ext';

/** Command ids. */
export namespace CommandIDs {
  /** Reveal and focus the Analytics sidebar. */
  export const openSidebar = `${PLUGIN_NAMESPACE}:open-sidebar`;
  /** Reload every section of the sidebar. */
  export const refresh = `${PLUGIN_NAMESPACE}:refresh`;
}

/** Id of the Analytics sidebar widget in the left area. */
export const SIDEBAR_ID = `${PLUGIN_NAMESPACE}:sidebar`;

/** `GET {baseUrl}api/user`: the analytics user the request is authenticated as. */
export interface IAnalyticsUser {
  id: string;
  username: string;
  display_name: string;
  email: string | null;
  is_admin: boolean;
  /** Absolute path under the server's base URL, e.g. `/base/api/user/avatar`. */
  avatar_url: string;
  /** ISO 8601 UTC timestamp. */
  created_at: string;
}

/** `GET {baseUrl}api/analytics/info`: versions and mode of the server. */
export interface IServerInfo {
  /** analytics_ext version. */
  version: string;
  jupyter_server_version: string;
  multi_user: boolean;
  /** Store backend, e.g. `sqlite` or `postgresql`. */
  store: string;
}
