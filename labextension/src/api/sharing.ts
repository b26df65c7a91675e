/**
 * Grants and share links, the same routes in every area:
 * `GET|POST /api/<area>/share`, `DELETE /api/<area>/share/<grant id>`;
 * and `GET /api/users`, the people a grant may name.
 */
import { AreaAPI } from './base';

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
  grants(
    area: ShareArea,
    objectId: string,
    objectType?: string
  ): Promise<IGrant[]> {
    return this.get<{ items: IGrant[] }>(`api/${area}/share`, {
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
    return this.get<{ items: IUserMatch[] }>('api/users', {
      query: prefix,
      limit
    }).then(page => page.items);
  }
}
