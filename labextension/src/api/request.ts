/**
 * The one way the frontend talks to the analytics_ext server: every call goes
 * through `requestAPI` (JSON) or `requestBlob` (files, pictures), so
 * authentication (token, XSRF cookie), base URL handling and error mapping live
 * in one place.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * A non-2xx answer from the server. `message` is the server's JSON `message`
 * (jupyter_server's `{"message": ..., "reason": ...}` error shape) when it sent
 * one, else a generic text naming the status.
 */
export class AnalyticsAPIError extends ServerConnection.ResponseError {
  /** HTTP status code of the answer. */
  readonly status: number;
  /** The server's short `reason`, if any. */
  readonly reason: string | null;

  constructor(response: Response, message: string, reason: string | null) {
    super(response, message);
    this.name = 'AnalyticsAPIError';
    this.status = response.status;
    this.reason = reason;
  }
}

/** Values a query string may carry; `undefined` and `null` are left out. */
export type QueryValue = string | number | boolean | null | undefined;

/**
 * `path?k=v&...` with every value URL-encoded; keys whose value is `null` or
 * `undefined` are dropped, so optional filters can be passed as they are.
 */
export function withQuery(
  path: string,
  query: Record<string, QueryValue | QueryValue[]> = {}
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (item !== null && item !== undefined) {
        params.append(key, String(item));
      }
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * `init` with the cache mode every analytics call uses. JupyterLab's default,
 * `no-store`, makes `makeRequest` append a timestamp to the URL as a cache
 * buster; our routes refuse query parameters they do not name (422), and
 * their answers carry `Cache-Control: no-store` anyway, so `no-cache` (always
 * revalidate) loses nothing and keeps URLs exact.
 */
export function withCacheMode(init: RequestInit): RequestInit {
  return init.cache === undefined ? { ...init, cache: 'no-cache' } : init;
}

/** `init` for a JSON body sent with `method`. */
export function jsonBody(method: string, body: unknown): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}

/**
 * Call the server API at `{baseUrl}{endPoint}` and return the parsed JSON body
 * (or `undefined` for an empty body, e.g. 204).
 *
 * @throws {AnalyticsAPIError} on a non-2xx answer.
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, endPoint);
  const response = await ServerConnection.makeRequest(
    url,
    withCacheMode(init),
    settings
  );
  const text = await response.text();
  const data = parseJSON(text);

  if (!response.ok) {
    throw errorFromResponse(response, data);
  }
  if (text.length === 0) {
    return undefined as T;
  }
  if (data === undefined) {
    throw new AnalyticsAPIError(
      response,
      `The server sent an invalid JSON answer to ${endPoint}.`,
      null
    );
  }
  return data as T;
}

/** A file the server sent: its bytes, type and the name it suggests. */
export interface IDownload {
  blob: Blob;
  /** From `Content-Disposition`, else `fallbackName`. */
  filename: string;
  /** The response headers (e.g. `X-Export-Rows`). */
  headers: Headers;
}

/**
 * Call the server API and return the body as bytes: for exports and
 * pictures. Errors are mapped exactly as in `requestAPI`.
 */
export async function requestBlob(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  fallbackName = 'download'
): Promise<IDownload> {
  const url = URLExt.join(settings.baseUrl, endPoint);
  const response = await ServerConnection.makeRequest(
    url,
    withCacheMode(init),
    settings
  );
  if (!response.ok) {
    const text = await response.text();
    throw errorFromResponse(response, parseJSON(text));
  }
  const blob = await response.blob();
  return {
    blob,
    filename:
      filenameFromDisposition(response.headers.get('Content-Disposition')) ??
      fallbackName,
    headers: response.headers
  };
}

/**
 * The file name of a `Content-Disposition` header: RFC 6266's `filename*`
 * (UTF-8, percent-encoded) first, then the plain `filename`.
 */
export function filenameFromDisposition(header: string | null): string | null {
  if (!header) {
    return null;
  }
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain name
    }
  }
  const plain =
    /filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;]+)/.exec(header);
  if (plain) {
    return (plain[1] ?? plain[2]).replace(/\\(.)/g, '$1').trim();
  }
  return null;
}

/** Human-readable text of any error thrown by this module (or anything else). */
export function errorMessage(error: unknown): string {
  if (error instanceof ServerConnection.NetworkError) {
    return `Cannot reach the Jupyter server: ${error.message}`;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

function parseJSON(text: string): unknown {
  if (text.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorFromResponse(
  response: Response,
  data: unknown
): AnalyticsAPIError {
  let message: string | null = null;
  let reason: string | null = null;
  if (typeof data === 'object' && data !== null) {
    const body = data as { message?: unknown; reason?: unknown };
    if (typeof body.message === 'string' && body.message.length > 0) {
      message = body.message;
    }
    if (typeof body.reason === 'string' && body.reason.length > 0) {
      reason = body.reason;
    }
  }
  const status = `${response.status}${
    response.statusText ? ` ${response.statusText}` : ''
  }`;
  return new AnalyticsAPIError(
    response,
    message ?? reason ?? `The server answered ${status}.`,
    reason
  );
}
