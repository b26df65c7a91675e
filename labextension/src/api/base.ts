/**
 * The base of every area client: the verbs over `requestAPI` with the
 * connection settings bound, so area methods read as one line each.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  type IDownload,
  type QueryValue,
  jsonBody,
  requestAPI,
  requestBlob,
  withQuery
} from './request';

export type Query = Record<string, QueryValue | QueryValue[]>;

export abstract class AreaAPI {
  constructor(
    protected readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  protected get<T>(path: string, query: Query = {}): Promise<T> {
    return requestAPI<T>(withQuery(path, query), {}, this.settings);
  }

  protected post<T>(path: string, body: unknown = {}): Promise<T> {
    return requestAPI<T>(path, jsonBody('POST', body), this.settings);
  }

  protected patch<T>(path: string, body: unknown): Promise<T> {
    return requestAPI<T>(path, jsonBody('PATCH', body), this.settings);
  }

  protected put<T>(path: string, body: unknown): Promise<T> {
    return requestAPI<T>(path, jsonBody('PUT', body), this.settings);
  }

  protected delete(path: string, query: Query = {}): Promise<void> {
    return requestAPI<void>(
      withQuery(path, query),
      { method: 'DELETE' },
      this.settings
    );
  }

  /** A file: `GET` with a query, or `POST` with a JSON body. */
  protected download(
    path: string,
    options: { query?: Query; body?: unknown; fallbackName?: string } = {}
  ): Promise<IDownload> {
    const init =
      options.body === undefined ? {} : jsonBody('POST', options.body);
    return requestBlob(
      withQuery(path, options.query ?? {}),
      init,
      this.settings,
      options.fallbackName
    );
  }
}
