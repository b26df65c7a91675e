/**
 * Words for what the account tab lists: dates, user agents, activity events.
 * Pure functions, so the wording is unit-tested without a server.
 */
import type { IActivityEvent, JSONValue } from '../../api/account';

/** `2026-11-27 14:05` in the browser's zone; the raw text if it is not a date. */
export function formatTime(
  iso: string | null | undefined,
  never = 'Never'
): string {
  if (!iso) {
    return never;
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** `Chrome on Linux` from a User-Agent header; the header itself when unknown. */
export function describeUserAgent(agent: string | null): string {
  if (!agent) {
    return 'Unknown device';
  }
  const browsers: [RegExp, string][] = [
    [/Edg\//, 'Edge'],
    [/OPR\//, 'Opera'],
    [/Firefox\//, 'Firefox'],
    [/(Chrome|Chromium)\//, 'Chrome'],
    [/Safari\//, 'Safari'],
    [/python-httpx|python-requests|aiohttp/i, 'Python script'],
    [/curl\//, 'curl']
  ];
  const systems: [RegExp, string][] = [
    [/Windows/, 'Windows'],
    [/Android/, 'Android'],
    [/iPhone|iPad/, 'iOS'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Linux/, 'Linux']
  ];
  const browser = browsers.find(([pattern]) => pattern.test(agent))?.[1];
  const system = systems.find(([pattern]) => pattern.test(agent))?.[1];
  if (browser && system) {
    return `${browser} on ${system}`;
  }
  return browser ?? system ?? agent;
}

const AREAS: Record<string, string> = {
  auth: 'Sign-in',
  user: 'Account',
  api_key: 'API key',
  query: 'Query',
  chart: 'Chart',
  dashboard: 'Dashboard',
  datasource: 'Datasource',
  sharing: 'Sharing'
};

/** `user.settings_updated` → `Account: settings updated`. */
export function describeEventType(type: string): string {
  const dot = type.indexOf('.');
  if (dot < 0) {
    return words(type);
  }
  const area = type.slice(0, dot);
  const verb = words(type.slice(dot + 1));
  return `${AREAS[area] ?? capitalize(words(area))}: ${verb}`;
}

/** What an event was about: its object's name if the event recorded one, else type and id. */
export function describeEventObject(event: IActivityEvent): string {
  if (
    event.target_type === 'user' &&
    event.target_id &&
    event.target_id === event.user_id
  ) {
    return 'your account';
  }
  const name = firstText(event.details, [
    'name',
    'title',
    'username',
    'key_name'
  ]);
  const kind = event.target_type ? words(event.target_type) : '';
  if (name) {
    return kind ? `${kind} “${name}”` : name;
  }
  if (event.target_id) {
    return kind ? `${kind} ${event.target_id}` : event.target_id;
  }
  return kind;
}

function firstText(
  details: Record<string, JSONValue>,
  keys: string[]
): string | null {
  for (const key of keys) {
    const value = details[key];
    if (typeof value === 'string' && value) {
      return value;
    }
  }
  return null;
}

function words(text: string): string {
  return text.replace(/[_.]+/g, ' ').trim();
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `Ada Lovelace` → `AL`, `ada` → `A`: the avatar's fallback. */
export function initialsOf(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters =
    parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map(word => Array.from(word)[0].toUpperCase()).join('') || '?';
}

/** The avatar URL with a version parameter, so a new picture replaces a cached one. */
export function cacheBusted(url: string, version: number): string {
  if (version === 0) {
    return url;
  }
  return `${url}${url.includes('?') ? '&' : '?'}v=${version}`;
}

/** Sessions as the list shows them: this one first, then the most recently used. */
export function sortSessions<
  T extends { current: boolean; last_used_at: string }
>(sessions: T[]): T[] {
  return [...sessions].sort(
    (a, b) =>
      Number(b.current) - Number(a.current) ||
      b.last_used_at.localeCompare(a.last_used_at)
  );
}
