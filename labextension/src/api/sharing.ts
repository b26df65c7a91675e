/**
 * Grants and share links, the same routes in every area:
 * `GET|POST /api/<area>/share`, `DELETE /api/<area>/share/<grant id>`;
 * and `GET /api/users`, the people a grant may name.
 */
import { AreaAPI, type Query } from './base';
import { requestAPI, withQuery } from './request';

/** An area whose objects can be shared, as its routes spell it. */
export type ShareArea = 'datasources' | 'query' | 'chart' | 'dashboards';

/** One grant: a user's level on an object, or a share link. */
export interface IGrant {
  id: string;
  object_type: string;
  object_id: string;
  principal_type: 'user' | 'link';
  /** The user's id; for a link, the token's public lookup part. */
  principal_id: string;
  /** The user's username (null for a link, or an account that is gone). */
  principal_name: string | null;
  level: string;
  granted_by: string | null;
  created_at: string;
  expires_at: string | null;
  /** A new link's secret: in the answer that created it, never again. */
  token?: string | null;
  /** A new link's address. */
  url?: string | null;
}

export interface IGrantCreate {
  object_id: string;
  object_type?: string;
  principal_type: 'user' | 'link';
  principal_id?: string;
  level: string;
  /** Links only; ISO 8601 with a zone. */
  expires_at?: string;
}

/** `GET /api/users`: an account a grant may name. */
export interface IUserMatch {
  id: string;
  username: string;
  display_name: string;
}

export class SharingAPI extends AreaAPI {
  grants(area: ShareArea, objectId: string, objectType?: string): Promise<IGrant[]> {
    return this._fresh<{ items: IGrant[] }>(`api/${area}/share`, {
      object_id: objectId,
      object_type: objectType
    }).then(page => page.items);
  }

  grant(area: ShareArea, body: IGrantCreate): Promise<IGrant> {
    return this.post<IGrant>(`api/${area}/share`, body);
  }

  revoke(area: ShareArea, grantId: string): Promise<void> {
    return this.delete(`api/${area}/share/${encodeURIComponent(grantId)}`);
  }

  /** Accounts whose username or display name starts with `prefix` (at most `limit`). */
  findUsers(prefix: string, limit = 10): Promise<IUserMatch[]> {
    return this._fresh<{ items: IUserMatch[] }>('api/users', {
      query: prefix,
      limit
    }).then(page => page.items);
  }

  /**
   * `GET` without JupyterLab's cache buster. Its default `cache: 'no-store'`
   * makes `ServerConnection.makeRequest` append `&<timestamp>` to the URL,
   * which these routes refuse (422: they name every query parameter they
   * take). Our answers carry `Cache-Control: no-store`, so `no-cache` reads
   * just as fresh.
   */
  private _fresh<T>(path: string, query: Query): Promise<T> {
    return requestAPI<T>(
      withQuery(path, query),
      { cache: 'no-cache' },
      this.settings
    );
  }
}
