/**
 * The Account panel's logic: the REST client's requests (through a recording
 * `fetch`, no network), the words it shows, and the views built from fixtures.
 */
import { ServerConnection } from '@jupyterlab/services';

import { AccountAPI, type IActivityEvent } from '../src/api/account';
import { activityRow } from '../src/panels/account/activity';
import { apiKeyRequest } from '../src/panels/account/api-keys';
import {
  cacheBusted,
  describeEventObject,
  describeEventType,
  describeUserAgent,
  formatTime,
  sortSessions,
  initialsOf
} from '../src/panels/account/format';
import { profileChanges } from '../src/panels/account/profile';
import {
  avatarChanged,
  serverView,
  userView
} from '../src/panels/account/views';
import type { IAnalyticsUser } from '../src/tokens';

interface IRecorded {
  url: string;
  /** The URL as sent, cache buster included. */
  raw: string;
  method: string;
  body: unknown;
  contentType: string | null;
}

/** An AccountAPI whose requests are recorded and answered with `answer`. */
function recordingAPI(answer: () => Response): {
  api: AccountAPI;
  calls: IRecorded[];
} {
  const calls: IRecorded[] = [];
  // The body as the client handed it over (jsdom's Blob is opaque to Node's Request).
  const bodies = new Map<Request, unknown>();
  class RecordingRequest extends Request {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(input, init);
      bodies.set(this, init?.body ?? null);
    }
  }
  const fetch = async (
    input: RequestInfo | URL,
    init?: RequestInit
  ): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const hasBody = !['GET', 'HEAD', 'DELETE'].includes(request.method);
    calls.push({
      // JupyterLab appends a numeric cache buster to every URL.
      url: request.url.replace(/[?&]\d+$/, ''),
      raw: request.url,
      method: request.method,
      body: hasBody ? bodies.get(request) : null,
      contentType: request.headers.get('Content-Type')
    });
    return answer();
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/base/',
    fetch: fetch as typeof globalThis.fetch,
    Request: RecordingRequest,
    Headers: Headers
  });
  return { api: new AccountAPI(settings), calls };
}

const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

describe('AccountAPI', () => {
  it('uploads the avatar as raw bytes with PUT', async () => {
    const { api, calls } = recordingAPI(
      () => new Response(null, { status: 204 })
    );
    const picture = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], {
      type: 'image/png'
    });
    await api.uploadAvatar(picture);
    expect(calls).toHaveLength(1);
    expect(calls[0].method).toBe('PUT');
    expect(calls[0].url).toBe('http://localhost:8888/base/api/user/avatar');
    expect(calls[0].body).toBe(picture);
    expect(calls[0].contentType).toBe('image/png');
  });

  it('shows the server message of a refused upload', async () => {
    const { api } = recordingAPI(() =>
      json({ message: 'the picture is larger than 2 MiB' }, 413)
    );
    await expect(api.uploadAvatar(new Blob(['x']))).rejects.toThrow(
      'the picture is larger than 2 MiB'
    );
  });

  it('pages the activity feed with a cursor, and no cache buster the route would refuse', async () => {
    const { api, calls } = recordingAPI(() =>
      json({ items: [], next: null, total: 0 })
    );
    await api.activity({ cursor: 'abc=', limit: 20 });
    await api.activity();
    expect(calls.map(call => call.raw)).toEqual([
      'http://localhost:8888/base/api/user/activity?cursor=abc%3D&limit=20',
      'http://localhost:8888/base/api/user/activity?limit=20'
    ]);
  });

  it('patches settings with only the changes and revokes by id', async () => {
    const { api, calls } = recordingAPI(() => json({ revoked: 2, items: [] }));
    await api.updateSettings({ chart_theme: 'dark' });
    expect(calls[0].method).toBe('PATCH');
    expect(calls[0].body).toBe('{"chart_theme":"dark"}');
    expect(await api.revokeOtherSessions()).toBe(2);
    expect(calls[1].url).toBe(
      'http://localhost:8888/base/api/auth/sessions/revoke-others'
    );
    await api.revokeSession('a/b');
    expect(calls[2].method).toBe('DELETE');
    expect(calls[2].url).toBe(
      'http://localhost:8888/base/api/auth/sessions/a%2Fb'
    );
  });
});

describe('words', () => {
  it('names devices from user agents', () => {
    expect(
      describeUserAgent(
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'
      )
    ).toBe('Chrome on Linux');
    expect(
      describeUserAgent(
        'Mozilla/5.0 (Windows NT 10.0; rv:120.0) Gecko Firefox/120.0'
      )
    ).toBe('Firefox on Windows');
    expect(describeUserAgent('python-httpx/0.28.1')).toBe('Python script');
    expect(describeUserAgent('weird-agent')).toBe('weird-agent');
    expect(describeUserAgent(null)).toBe('Unknown device');
  });

  it('lists this session first, then the most recently used', () => {
    const sessions = [
      { id: 'old', current: false, last_used_at: '2026-11-01T00:00:00Z' },
      { id: 'new', current: false, last_used_at: '2026-11-27T00:00:00Z' },
      { id: 'me', current: true, last_used_at: '2026-10-01T00:00:00Z' }
    ];
    expect(sortSessions(sessions).map(session => session.id)).toEqual([
      'me',
      'new',
      'old'
    ]);
  });

  it('formats times, and says never for none', () => {
    expect(formatTime(null)).toBe('Never');
    expect(formatTime(null, 'never')).toBe('never');
    expect(formatTime('not a date')).toBe('not a date');
    expect(formatTime('2026-11-27T14:05:00')).toBe('2026-11-27 14:05');
  });

  it('describes activity events', () => {
    expect(describeEventType('user.settings_updated')).toBe(
      'Account: settings updated'
    );
    expect(describeEventType('api_key.created')).toBe('API key: created');
    expect(describeEventType('widget.spun')).toBe('Widget: spun');
    const event: IActivityEvent = {
      id: '1',
      user_id: 'u',
      actor_id: 'u',
      type: 'api_key.created',
      target_type: 'api_key',
      target_id: 'k1',
      ip_address: null,
      user_agent: null,
      details: { name: '<b>nightly</b>' },
      created_at: '2026-11-27T10:00:00Z'
    };
    expect(describeEventObject(event)).toBe('api key “<b>nightly</b>”');
    expect(describeEventObject({ ...event, details: {} })).toBe('api key k1');
    expect(
      describeEventObject({
        ...event,
        target_type: 'user',
        target_id: 'u',
        details: {}
      })
    ).toBe('your account');
    expect(
      describeEventObject({
        ...event,
        target_type: 'user',
        target_id: 'other',
        details: {}
      })
    ).toBe('user other');
    const row = activityRow(event);
    expect(row.querySelector('b')).toBeNull();
    expect(row.textContent).toContain('<b>nightly</b>');
    expect(row.querySelector('time')?.getAttribute('datetime')).toBe(
      '2026-11-27T10:00:00Z'
    );
  });

  it('builds initials and cache-busting avatar URLs', () => {
    expect(initialsOf('Ada Lovelace')).toBe('AL');
    expect(initialsOf('ada')).toBe('A');
    expect(initialsOf('  ')).toBe('?');
    expect(cacheBusted('/base/api/user/avatar', 0)).toBe(
      '/base/api/user/avatar'
    );
    expect(cacheBusted('/base/api/user/avatar', 7)).toBe(
      '/base/api/user/avatar?v=7'
    );
    expect(cacheBusted('/a?x=1', 7)).toBe('/a?x=1&v=7');
  });
});

describe('forms', () => {
  const user = {
    id: 'u',
    username: 'ada',
    display_name: 'Ada',
    email: 'ada@example.org',
    is_admin: false,
    is_owner: false,
    avatar_url: '/api/user/avatar',
    created_at: '',
    updated_at: '',
    timezone: 'UTC',
    locale: 'en'
  };

  it('sends only changed profile fields, the password only with a new email', () => {
    const same = {
      display_name: 'Ada',
      email: 'ada@example.org',
      timezone: 'UTC',
      locale: 'en'
    };
    expect(profileChanges(user, same, 'secret')).toEqual({});
    expect(
      profileChanges(user, { ...same, display_name: 'Ada L.' }, 'secret')
    ).toEqual({
      display_name: 'Ada L.'
    });
    expect(
      profileChanges(user, { ...same, email: 'a@b.org' }, 'secret')
    ).toEqual({
      email: 'a@b.org',
      current_password: 'secret'
    });
  });

  it('builds the API key create body, or says what is missing', () => {
    expect(apiKeyRequest('  ', ['read'], '')).toEqual({
      problem: 'Name: give the key a name, e.g. the script that will use it.'
    });
    expect(apiKeyRequest('nightly', [], '')).toEqual({
      problem: 'Scopes: choose at least one.'
    });
    expect(apiKeyRequest(' nightly ', ['read', 'write'], '')).toEqual({
      name: 'nightly',
      scopes: ['read', 'write'],
      expires_at: null
    });
    const dated = apiKeyRequest('n', ['read'], '2030-01-31');
    expect('expires_at' in dated && new Date(dated.expires_at!).getDate()).toBe(
      31
    );
  });
});

describe('views', () => {
  const user: IAnalyticsUser = {
    id: 'u',
    username: 'ada',
    display_name: '<i>Ada</i>',
    email: null,
    is_admin: true,
    avatar_url: '/base/api/user/avatar',
    created_at: ''
  };

  it('shows the user with stable test ids, names as text', () => {
    const node = userView(user);
    const get = (id: string): Element | null =>
      node.querySelector(`[data-testid="${id}"]`);
    expect(get('analytics-user-display-name')?.textContent).toBe('<i>Ada</i>');
    expect(node.querySelector('i')).toBeNull();
    expect(get('analytics-user-username')?.textContent).toBe('ada');
    expect(get('analytics-user-admin-badge')).not.toBeNull();
    expect(get('analytics-user-email')).toBeNull();
    expect(get('analytics-user-avatar')?.getAttribute('src')).toBe(
      '/base/api/user/avatar'
    );
    expect(userView({ ...user, is_admin: false }).textContent).not.toContain(
      'admin'
    );
  });

  it('asks for a fresh avatar after it changed', () => {
    avatarChanged();
    const src = userView(user)
      .querySelector('[data-testid="analytics-user-avatar"]')
      ?.getAttribute('src');
    expect(src).toMatch(/^\/base\/api\/user\/avatar\?v=\d+$/);
  });

  it('shows the server facts', () => {
    const node = serverView({
      version: '0.1.0',
      jupyter_server_version: '2.21.0',
      multi_user: true,
      store: 'sqlite'
    });
    expect(
      node.querySelector('[data-testid="analytics-server-version"]')
        ?.textContent
    ).toBe('analytics_ext 0.1.0');
    expect(
      node.querySelector('[data-testid="analytics-server-mode"]')?.textContent
    ).toBe('Team (multi-user)');
    expect(
      node.querySelector('[data-testid="analytics-server-store"]')?.textContent
    ).toBe('sqlite');
  });
});
