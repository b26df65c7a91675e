/**
 * The share dialog's logic without the DOM: grants as rows, expiry texts,
 * the link-lifetime field, and the user picker's keyboard state. Kept apart
 * so it can be tested as plain functions.
 */
import type { IGrant, IUserMatch } from '../api/sharing';

/** The server refuses shorter user searches (`GET api/users`). */
export const MIN_USER_QUERY = 2;

/** The server's longest share-link lifetime (`MAX_LINK_LIFETIME`). */
export const MAX_LINK_DAYS = 366;

/** The server's lifetime for a link created without `expires_at`. */
export const DEFAULT_LINK_DAYS = 7;

/** One line of the grant list. */
export interface IShareRow {
  id: string;
  kind: 'user' | 'link';
  /** Who holds the grant: the username, or the link's public id. */
  label: string;
  level: string;
  /** When it was made and, for links, when it ends. */
  detail: string;
  /** A link past its expiry (it opens nothing any more). */
  expired: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

/** A date as the user's locale writes it, e.g. "Nov 27, 2026". */
export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  return date.toLocaleDateString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric'
  });
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** "expires in 3 days", "expires in 5 hours", "expired", "never expires". */
export function expiryText(expiresAt: string | null, now: Date): string {
  if (expiresAt === null) {
    return 'never expires';
  }
  const left = new Date(expiresAt).getTime() - now.getTime();
  if (Number.isNaN(left)) {
    return `expires ${expiresAt}`;
  }
  if (left <= 0) {
    return `expired on ${formatDate(expiresAt)}`;
  }
  if (left < HOUR_MS) {
    return `expires in ${plural(Math.max(1, Math.ceil(left / MINUTE_MS)), 'minute')}`;
  }
  if (left < 2 * DAY_MS) {
    return `expires in ${plural(Math.round(left / HOUR_MS), 'hour')}`;
  }
  return `expires in ${plural(Math.round(left / DAY_MS), 'day')}`;
}

/** Whether `grant` is a link whose expiry has passed. */
export function isExpired(grant: IGrant, now: Date): boolean {
  return (
    grant.expires_at !== null &&
    new Date(grant.expires_at).getTime() <= now.getTime()
  );
}

/** The rows of the grant list: people first (by name), then links (newest first). */
export function grantRows(grants: IGrant[], now: Date): IShareRow[] {
  const users = grants
    .filter(grant => grant.principal_type === 'user')
    .map((grant): IShareRow => ({
      id: grant.id,
      kind: 'user',
      label: grant.principal_name ?? 'Deleted account',
      level: grant.level,
      detail: `shared ${formatDate(grant.created_at)}`,
      expired: false
    }))
    .sort((a, b) => a.label.localeCompare(b.label));
  const links = grants
    .filter(grant => grant.principal_type === 'link')
    .sort((a, b) => b.created_at.localeCompare(a.created_at))
    .map((grant): IShareRow => ({
      id: grant.id,
      kind: 'link',
      label: `Link ${grant.principal_id}`,
      level: grant.level,
      detail: `created ${formatDate(grant.created_at)} · ${expiryText(
        grant.expires_at,
        now
      )}`,
      expired: isExpired(grant, now)
    }));
  return [...users, ...links];
}

/** How a user is named in suggestions: "Ada Lovelace (@ada)", or "ada". */
export function userLabel(user: IUserMatch): string {
  return user.display_name && user.display_name !== user.username
    ? `${user.display_name} (@${user.username})`
    : user.username;
}

export type LinkExpiry =
  { ok: true; expiresAt: string | undefined } | { ok: false; message: string };

/**
 * The `expires_at` of a new link from the "days" field: empty means the
 * server's default; otherwise a whole number of days from `now`, 1 to 366.
 */
export function linkExpiry(text: string, now: Date): LinkExpiry {
  const trimmed = text.trim();
  if (trimmed === '') {
    return { ok: true, expiresAt: undefined };
  }
  if (!/^\d+$/.test(trimmed)) {
    return { ok: false, message: 'Expiry: enter a whole number of days.' };
  }
  const days = Number(trimmed);
  if (days < 1 || days > MAX_LINK_DAYS) {
    return {
      ok: false,
      message: `Expiry: enter between 1 and ${MAX_LINK_DAYS} days.`
    };
  }
  return {
    ok: true,
    expiresAt: new Date(now.getTime() + days * DAY_MS).toISOString()
  };
}

/**
 * The suggestion list's state: its items and which one the arrow keys have
 * reached. The first suggestion is active as soon as there is one, so Enter
 * picks the best match at once.
 */
export class SuggestionState {
  private _items: IUserMatch[] = [];
  private _active = -1;

  get items(): readonly IUserMatch[] {
    return this._items;
  }

  /** Index of the active suggestion, -1 when there is none. */
  get active(): number {
    return this._active;
  }

  get current(): IUserMatch | null {
    return this._active >= 0 ? this._items[this._active] : null;
  }

  set(items: IUserMatch[]): void {
    this._items = items;
    this._active = items.length > 0 ? 0 : -1;
  }

  clear(): void {
    this.set([]);
  }

  /** Move the active suggestion by `delta`, wrapping around at both ends. */
  move(delta: number): void {
    const count = this._items.length;
    if (count === 0) {
      return;
    }
    this._active = (((this._active + delta) % count) + count) % count;
  }

  /** Make suggestion `index` active (the mouse hovered it). */
  activate(index: number): void {
    if (index >= 0 && index < this._items.length) {
      this._active = index;
    }
  }
}
