/**
 * `account` routes of the analytics REST API and the shapes they answer with:
 * the caller's profile and avatar (`api/user`), settings and their JSON Schema
 * (`api/user/settings`), login sessions (`api/auth/sessions`), API keys
 * (`api/auth/api-keys`) and the activity feed (`api/user/activity`).
 */
import type { IAnalyticsUser } from '../tokens';
import { AreaAPI } from './base';
import { requestAPI } from './request';

/** `PATCH api/user` (`schemas/users.py` `UserProfileUpdate`): omitted fields stay. */
export interface IProfileUpdate {
  display_name?: string;
  email?: string;
  timezone?: string;
  locale?: string;
  /** Needed to change `email` on accounts that have a password. */
  current_password?: string;
}

/** `GET api/user` as the account tab uses it (more fields than the sidebar's). */
export interface IAccountUser extends IAnalyticsUser {
  timezone: string;
  locale: string;
  is_owner: boolean;
  updated_at: string;
}

/** A JSON value: what a settings document is made of. */
export type JSONValue =
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

export type JSONObject = { [key: string]: JSONValue };

/**
 * The subset of JSON Schema (draft 2020-12, as pydantic emits it) that the
 * settings form understands.
 */
export interface IJSONSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: JSONValue;
  enum?: JSONValue[];
  const?: JSONValue;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, IJSONSchema>;
  required?: string[];
  additionalProperties?: boolean | IJSONSchema;
  items?: IJSONSchema;
  uniqueItems?: boolean;
  minItems?: number;
  maxItems?: number;
  anyOf?: IJSONSchema[];
  oneOf?: IJSONSchema[];
  allOf?: IJSONSchema[];
  not?: IJSONSchema;
  $ref?: string;
  $defs?: Record<string, IJSONSchema>;
  definitions?: Record<string, IJSONSchema>;
  readOnly?: boolean;
}

/** `GET api/auth/sessions`: one login session of the caller. */
export interface ISession {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  ip_address: string | null;
  user_agent: string | null;
  /** The session this request was made in. */
  current: boolean;
}

export type ApiKeyScope = 'read' | 'write' | 'admin';

/** `GET api/auth/api-keys`: a key without its secret. */
export interface IApiKey {
  id: string;
  name: string;
  /** `aek_<lookup>`: recognisable, useless alone. */
  prefix: string;
  scopes: ApiKeyScope[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
}

/** The answer to creating a key: the only time `token` (the secret) is sent. */
export interface ICreatedApiKey extends IApiKey {
  token: string;
}

export interface IApiKeyCreate {
  name: string;
  scopes: ApiKeyScope[];
  /** ISO 8601 with a zone; null or absent: never expires. */
  expires_at?: string | null;
}

/** `GET api/user/activity`: one event of the caller's feed. */
export interface IActivityEvent {
  id: string;
  user_id: string | null;
  actor_id: string | null;
  /** `area.verb`, e.g. `user.settings_updated`. */
  type: string;
  target_type: string | null;
  target_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  details: JSONObject;
  created_at: string;
}

export interface IActivityPage {
  items: IActivityEvent[];
  /** Cursor of the next page; null on the last one. */
  next: string | null;
  total: number;
}

export class AccountAPI extends AreaAPI {
  /** `GET api/user` with every profile field. */
  getUser(): Promise<IAccountUser> {
    return this.get<IAccountUser>('api/user');
  }

  /** `PATCH api/user`: the server answers with the updated user (422 names the field). */
  updateProfile(changes: IProfileUpdate): Promise<IAccountUser> {
    return this.patch<IAccountUser>('api/user', changes);
  }

  /**
   * `PUT api/user/avatar` with the picture's raw bytes as the body (the server
   * reads the type from the bytes, refuses > 2 MiB with 413 and non-images
   * with 415/422, and stores a re-encoded square PNG).
   */
  uploadAvatar(picture: Blob): Promise<void> {
    return requestAPI<void>(
      'api/user/avatar',
      {
        method: 'PUT',
        body: picture,
        headers: {
          'Content-Type': picture.type || 'application/octet-stream'
        }
      },
      this.settings
    );
  }

  /** `DELETE api/user/avatar`: back to the generated picture. */
  removeAvatar(): Promise<void> {
    return this.delete('api/user/avatar');
  }

  /** `GET api/user/settings/schema`: the JSON Schema the settings form is generated from. */
  settingsSchema(): Promise<IJSONSchema> {
    return this.get<IJSONSchema>('api/user/settings/schema');
  }

  /** `GET api/user/settings`: the full document, defaults filled in. */
  getSettings(): Promise<JSONObject> {
    return this.get<JSONObject>('api/user/settings');
  }

  /** `PATCH api/user/settings`: a merge (nested objects field by field); answers the new document. */
  updateSettings(changes: JSONObject): Promise<JSONObject> {
    return this.patch<JSONObject>('api/user/settings', changes);
  }

  /** `GET api/auth/sessions`: the caller's login sessions (none for Jupyter's token). */
  sessions(): Promise<ISession[]> {
    return this.get<{ items: ISession[] }>('api/auth/sessions').then(
      page => page.items
    );
  }

  /** `DELETE api/auth/sessions/<id>`: that session and every token of it stop working. */
  revokeSession(sessionId: string): Promise<void> {
    return this.delete(`api/auth/sessions/${encodeURIComponent(sessionId)}`);
  }

  /** `POST api/auth/sessions/revoke-others`: every session but the caller's; answers how many. */
  revokeOtherSessions(): Promise<number> {
    return this.post<{ revoked: number }>(
      'api/auth/sessions/revoke-others'
    ).then(answer => answer.revoked);
  }

  /** `GET api/auth/api-keys`: the caller's keys, never their secrets. */
  apiKeys(): Promise<IApiKey[]> {
    return this.get<{ items: IApiKey[] }>('api/auth/api-keys').then(
      page => page.items
    );
  }

  /** `POST api/auth/api-keys`: the answer holds the secret, once. */
  createApiKey(body: IApiKeyCreate): Promise<ICreatedApiKey> {
    return this.post<ICreatedApiKey>('api/auth/api-keys', body);
  }

  /** `DELETE api/auth/api-keys/<id>`. */
  revokeApiKey(keyId: string): Promise<void> {
    return this.delete(`api/auth/api-keys/${encodeURIComponent(keyId)}`);
  }

  /** `GET api/user/activity`: one page of the caller's feed, newest first. */
  activity(
    options: { cursor?: string | null; limit?: number } = {}
  ): Promise<IActivityPage> {
    return this.get<IActivityPage>('api/user/activity', {
      cursor: options.cursor ?? null,
      limit: options.limit ?? 20
    });
  }
}
