import type { IGrant, IUserMatch } from '../src/api/sharing';
import {
  SuggestionState,
  expiryText,
  grantRows,
  linkExpiry,
  userLabel
} from '../src/ui/share-model';

const NOW = new Date('2026-11-27T12:00:00Z');

function grant(fields: Partial<IGrant>): IGrant {
  return {
    id: 'g'.repeat(22),
    object_type: 'dashboard',
    object_id: 'o'.repeat(22),
    principal_type: 'user',
    principal_id: 'u'.repeat(22),
    principal_name: 'ada',
    level: 'view',
    granted_by: 'x'.repeat(22),
    created_at: '2026-11-20T08:00:00Z',
    expires_at: null,
    ...fields
  };
}

const users: IUserMatch[] = [
  { id: '1', username: 'ada', display_name: 'Ada Lovelace' },
  { id: '2', username: 'adam', display_name: 'adam' },
  { id: '3', username: 'alan', display_name: 'Alan Turing' }
];

describe('expiryText', () => {
  it('says how long a link has left, in the largest unit that reads well', () => {
    expect(expiryText('2026-12-04T12:00:00Z', NOW)).toBe('expires in 7 days');
    expect(expiryText('2026-11-28T12:00:00Z', NOW)).toBe('expires in 24 hours');
    expect(expiryText('2026-11-27T13:00:00Z', NOW)).toBe('expires in 1 hour');
    expect(expiryText('2026-11-27T12:00:30Z', NOW)).toBe('expires in 1 minute');
    expect(expiryText('2026-11-27T12:20:00Z', NOW)).toBe(
      'expires in 20 minutes'
    );
    expect(expiryText(null, NOW)).toBe('never expires');
  });

  it('says a past expiry is over', () => {
    expect(expiryText('2026-11-26T12:00:00Z', NOW)).toMatch(/^expired on /);
    expect(expiryText('2026-11-27T12:00:00Z', NOW)).toMatch(/^expired on /);
  });
});

describe('grantRows', () => {
  it('lists people by name, then links newest first, with their details', () => {
    const rows = grantRows(
      [
        grant({ id: 'link-old', principal_type: 'link', principal_id: 'AAAA',
          principal_name: null, created_at: '2026-11-01T00:00:00Z',
          expires_at: '2026-11-02T00:00:00Z' }), // prettier-ignore
        grant({ id: 'zoe', principal_name: 'zoe', level: 'edit' }),
        grant({ id: 'link-new', principal_type: 'link', principal_id: 'BBBB',
          principal_name: null, created_at: '2026-11-26T00:00:00Z',
          expires_at: '2026-12-03T12:00:00Z' }), // prettier-ignore
        grant({ id: 'ada', principal_name: 'ada', level: 'manage' }),
        grant({ id: 'gone', principal_name: null })
      ],
      NOW
    );
    expect(rows.map(row => row.id)).toEqual([
      'ada',
      'gone',
      'zoe',
      'link-new',
      'link-old'
    ]);
    expect(rows[0]).toMatchObject({
      kind: 'user',
      label: 'ada',
      level: 'manage'
    });
    expect(rows[1].label).toBe('Deleted account');
    expect(rows[3]).toMatchObject({
      kind: 'link',
      label: 'Link BBBB',
      expired: false
    });
    expect(rows[3].detail).toMatch(/^created .* · expires in 6 days$/);
    expect(rows[4].expired).toBe(true);
    expect(rows[4].detail).toMatch(/expired on /);
  });

  it('never shows a link secret, even if the grant still carries one', () => {
    const rows = grantRows(
      [
        grant({
          principal_type: 'link',
          principal_id: 'lookup',
          principal_name: null,
          token: 'ael_secret',
          url: 'http://x/analytics/dashboards/o?share_token=ael_secret'
        })
      ],
      NOW
    );
    expect(JSON.stringify(rows)).not.toContain('ael_secret');
  });
});

describe('linkExpiry', () => {
  it('leaves the default to the server when empty', () => {
    expect(linkExpiry('  ', NOW)).toEqual({ ok: true, expiresAt: undefined });
  });

  it('turns days into an ISO timestamp from now', () => {
    expect(linkExpiry('3', NOW)).toEqual({
      ok: true,
      expiresAt: '2026-11-30T12:00:00.000Z'
    });
    expect(linkExpiry('366', NOW).ok).toBe(true);
  });

  it('refuses what the server would refuse, saying why', () => {
    for (const text of ['0', '367', '-1', '1.5', 'seven', '1e3']) {
      const result = linkExpiry(text, NOW);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.message).toMatch(/^Expiry: /);
      }
    }
  });
});

describe('userLabel', () => {
  it('shows the display name and the username when they differ', () => {
    expect(userLabel(users[0])).toBe('Ada Lovelace (@ada)');
    expect(userLabel(users[1])).toBe('adam');
  });
});

describe('SuggestionState', () => {
  it('activates the first suggestion and wraps around with the arrows', () => {
    const state = new SuggestionState();
    expect(state.current).toBeNull();
    state.move(1); // nothing to move through
    expect(state.active).toBe(-1);

    state.set(users);
    expect(state.current?.username).toBe('ada');
    state.move(1);
    state.move(1);
    expect(state.current?.username).toBe('alan');
    state.move(1);
    expect(state.current?.username).toBe('ada');
    state.move(-1);
    expect(state.current?.username).toBe('alan');
    state.activate(1);
    expect(state.current?.username).toBe('adam');
    state.activate(9);
    expect(state.active).toBe(1);

    state.clear();
    expect(state.current).toBeNull();
    expect(state.items).toHaveLength(0);
  });
});
