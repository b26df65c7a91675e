/**
 * The one REST client of the frontend: every call to the analytics_ext server
 * API goes through `requestAPI`, so authentication (token, XSRF cookie),
 * base URL handling and error mapping live in one place.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IAnalyticsUser, IServerInfo } from './tokens';

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
  const response = await ServerConnection.makeRequest(url, init, settings);
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

/** Typed calls of the analytics REST API. */
export class AnalyticsAPI {
  constructor(
    private readonly _settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** The server connection settings the client uses. */
  get serverSettings(): ServerConnection.ISettings {
    return this._settings;
  }

  /** `GET api/user`: the logged-in analytics user. */
  getCurrentUser(): Promise<IAnalyticsUser> {
    return requestAPI<IAnalyticsUser>('api/user', {}, this._settings);
  }

  /** `GET api/analytics/info`: versions and mode of the server. */
  getServerInfo(): Promise<IServerInfo> {
    return requestAPI<IServerInfo>('api/analytics/info', {}, this._settings);
  }
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
