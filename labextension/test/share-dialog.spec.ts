import { Widget } from '@lumino/widgets';

import type {
  IGrant,
  IGrantCreate,
  IUserMatch,
  ShareArea
} from '../src/api/sharing';
import {
  type IShareDialogOptions,
  type SharingClient,
  ShareDialogBody
} from '../src/ui/share-dialog-body';
import { renderGrantList } from '../src/ui/share-grant-list';
import { grantRows } from '../src/ui/share-model';

const NOW = new Date('2026-11-27T12:00:00Z');
const OBJECT = 'o'.repeat(22);

function grant(fields: Partial<IGrant>): IGrant {
  return {
    id: 'g'.repeat(22),
    object_type: 'dashboard',
    object_id: OBJECT,
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

/** A promise the test settles by hand, to look at the dialog while a call is pending. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/**
 * Stands in for the server at the client boundary (Jest has no network): it
 * records each call and answers with what the test queued.
 */
class RecordingClient implements SharingClient {
  calls: string[] = [];
  listed: IGrant[] = [];
  users: IUserMatch[] = [];
  next: Promise<IGrant> | null = null;
  revokeAnswer: Promise<void> = Promise.resolve();

  grants(
    area: ShareArea,
    objectId: string,
    objectType?: string
  ): Promise<IGrant[]> {
    this.calls.push(`grants ${area} ${objectId} ${objectType ?? '-'}`);
    return Promise.resolve(this.listed);
  }

  grant(area: ShareArea, body: IGrantCreate): Promise<IGrant> {
    this.calls.push(`grant ${area} ${JSON.stringify(body)}`);
    if (!this.next) {
      throw new Error('no answer queued');
    }
    return this.next;
  }

  revoke(area: ShareArea, grantId: string): Promise<void> {
    this.calls.push(`revoke ${area} ${grantId}`);
    return this.revokeAnswer;
  }

  findUsers(prefix: string, limit?: number): Promise<IUserMatch[]> {
    this.calls.push(`findUsers ${prefix} ${limit}`);
    return Promise.resolve(this.users);
  }
}

const OPTIONS: IShareDialogOptions = {
  area: 'dashboards',
  objectId: OBJECT,
  objectName: 'Sales',
  levels: ['view', 'edit', 'manage'],
  allowLinks: true
};

const flush = (): Promise<void> => new Promise(done => setTimeout(done, 5));

function byTestId<T extends HTMLElement = HTMLElement>(
  root: ParentNode,
  id: string
): T {
  const node = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!node) {
    throw new Error(`no ${id}`);
  }
  return node;
}

function key(target: HTMLElement, name: string): KeyboardEvent {
  const event = new KeyboardEvent('keydown', {
    key: name,
    bubbles: true,
    cancelable: true
  });
  target.dispatchEvent(event);
  return event;
}

async function openBody(
  client: RecordingClient,
  options: Partial<IShareDialogOptions> = {}
): Promise<{ body: ShareDialogBody; changes: number[] }> {
  const changes: number[] = [];
  const body = new ShareDialogBody(
    client,
    { ...OPTIONS, ...options },
    { now: () => NOW, debounceMs: 0, onChange: () => changes.push(1) }
  );
  Widget.attach(body, document.body);
  await body.ready;
  return { body, changes };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe('renderGrantList', () => {
  it('renders user-supplied names as text', () => {
    const rows = grantRows(
      [grant({ principal_name: '<b>bold</b><img src=x onerror=alert(1)>' })],
      NOW
    );
    const list = renderGrantList(rows, {
      confirming: null,
      revoking: null,
      onRevoke: () => undefined,
      onConfirm: () => undefined,
      onCancel: () => undefined
    });
    const name = byTestId(list, 'share-grant-name');
    expect(name.textContent).toBe('<b>bold</b><img src=x onerror=alert(1)>');
    expect(list.querySelector('b, img')).toBeNull();
  });

  it('says when nobody else has access', () => {
    const empty = renderGrantList([], {
      confirming: null,
      revoking: null,
      onRevoke: () => undefined,
      onConfirm: () => undefined,
      onCancel: () => undefined
    });
    expect(empty.dataset.testid).toBe('share-grants-empty');
  });
});

describe('ShareDialogBody', () => {
  it('lists the grants of the object it was opened for', async () => {
    const client = new RecordingClient();
    client.listed = [
      grant({ id: 'a'.repeat(22), principal_name: 'zoe', level: 'edit' }),
      grant({
        id: 'b'.repeat(22),
        principal_type: 'link',
        principal_id: 'LOOKUP',
        principal_name: null,
        expires_at: '2026-12-04T12:00:00Z'
      })
    ];
    const { body } = await openBody(client, {
      area: 'query',
      objectType: 'query_template'
    });
    expect(client.calls).toEqual([`grants query ${OBJECT} query_template`]);
    const rows = body.node.querySelectorAll('[data-testid="share-grant"]');
    expect([...rows].map(row => row.getAttribute('data-kind'))).toEqual([
      'user',
      'link'
    ]);
    expect(rows[1].textContent).toContain('expires in 7 days');
  });

  it('revokes after a confirmation, and keeps the row with the server message on failure', async () => {
    const client = new RecordingClient();
    const id = 'a'.repeat(22);
    client.listed = [grant({ id, principal_name: 'zoe' })];
    const { body, changes } = await openBody(client);

    client.revokeAnswer = Promise.reject(
      new Error('you need the manage permission on this dashboard')
    );
    byTestId<HTMLButtonElement>(body.node, 'share-revoke').click();
    expect(client.calls).not.toContain(`revoke dashboards ${id}`); // asks first
    byTestId<HTMLButtonElement>(body.node, 'share-revoke-confirm').click();
    await flush();
    expect(byTestId(body.node, 'share-grants-error').textContent).toBe(
      'you need the manage permission on this dashboard'
    );
    expect(
      body.node.querySelectorAll('[data-testid="share-grant"]')
    ).toHaveLength(1);
    expect(changes).toHaveLength(0);

    const pending = deferred<void>();
    client.revokeAnswer = pending.promise;
    byTestId<HTMLButtonElement>(body.node, 'share-revoke').click();
    byTestId<HTMLButtonElement>(body.node, 'share-revoke-confirm').click();
    expect(
      byTestId<HTMLButtonElement>(body.node, 'share-revoke-confirm').disabled
    ).toBe(true);
    pending.resolve();
    await flush();
    expect(body.node.querySelector('[data-testid="share-grant"]')).toBeNull();
    expect(byTestId(body.node, 'share-grants-empty')).toBeTruthy();
    expect(byTestId(body.node, 'share-grants-error').hidden).toBe(true);
    expect(changes).toHaveLength(1);
  });

  it('picks a user with the keyboard and shares, disabled while pending', async () => {
    const client = new RecordingClient();
    client.users = [
      { id: 'A'.repeat(22), username: 'ada', display_name: 'Ada <i>L</i>' },
      { id: 'B'.repeat(22), username: 'adam', display_name: 'Adam' }
    ];
    const { body, changes } = await openBody(client);
    const input = byTestId<HTMLInputElement>(body.node, 'share-user-input');
    const submit = byTestId<HTMLButtonElement>(body.node, 'share-submit');
    expect(submit.disabled).toBe(true);

    input.value = 'a';
    input.dispatchEvent(new Event('input'));
    await flush();
    expect(client.calls).not.toContain('findUsers a 10'); // too short to ask
    expect(byTestId(body.node, 'share-user-status').textContent).toContain(
      'at least 2'
    );

    input.value = 'ad';
    input.dispatchEvent(new Event('input'));
    await flush();
    expect(client.calls).toContain('findUsers ad 10');
    const list = byTestId(body.node, 'share-user-suggestions');
    expect(list.getAttribute('role')).toBe('listbox');
    expect(list.hidden).toBe(false);
    expect(input.getAttribute('aria-expanded')).toBe('true');
    const options = list.querySelectorAll('[role="option"]');
    expect(options).toHaveLength(2);
    expect(list.querySelector('i')).toBeNull(); // the display name stays text
    expect(input.getAttribute('aria-activedescendant')).toBe(options[0].id);

    key(input, 'ArrowDown');
    expect(
      list.querySelectorAll('[role="option"]')[1].getAttribute('aria-selected')
    ).toBe('true');
    expect(body.handlesKey(key(input, 'Enter'))).toBe(true); // not the Dialog's
    expect(input.value).toBe('Adam (@adam)');
    expect(list.hidden).toBe(true);
    expect(submit.disabled).toBe(false);

    body.node.querySelector<HTMLSelectElement>(
      '[data-testid="share-level"]'
    )!.value = 'edit';
    const answer = deferred<IGrant>();
    client.next = answer.promise;
    submit.click();
    expect(submit.disabled).toBe(true);
    expect(input.disabled).toBe(true);
    expect(client.calls[client.calls.length - 1]).toBe(
      `grant dashboards ${JSON.stringify({
        object_id: OBJECT,
        principal_type: 'user',
        principal_id: 'B'.repeat(22),
        level: 'edit'
      })}`
    );
    answer.resolve(
      grant({ id: 'n'.repeat(22), principal_name: 'adam', level: 'edit' })
    );
    await flush();
    expect(input.value).toBe('');
    expect(submit.disabled).toBe(true); // nobody picked any more
    expect(list.querySelectorAll('[role="option"]')).toHaveLength(0); // none stale
    const names = [
      ...body.node.querySelectorAll('[data-testid="share-grant-name"]')
    ];
    expect(names.map(node => node.textContent)).toEqual(['adam']);
    expect(changes).toHaveLength(1);
  });

  it('keeps the form and shows the server message when sharing fails', async () => {
    const client = new RecordingClient();
    client.users = [
      { id: 'A'.repeat(22), username: 'ada', display_name: 'ada' }
    ];
    const { body } = await openBody(client);
    const input = byTestId<HTMLInputElement>(body.node, 'share-user-input');
    input.value = 'ad';
    await body.picker.search();
    body.picker.pick(0);
    client.next = Promise.reject(
      new Error('principal_id: the owner already holds every permission')
    );
    await body.shareWithUser();
    expect(byTestId(body.node, 'share-user-error').textContent).toBe(
      'principal_id: the owner already holds every permission'
    );
    expect(input.value).toBe('ada');
    expect(body.picker.picked?.username).toBe('ada');
    expect(
      byTestId<HTMLButtonElement>(body.node, 'share-submit').disabled
    ).toBe(false);
  });

  it('closes the suggestions on Escape before the dialog would close', async () => {
    const client = new RecordingClient();
    client.users = [
      { id: 'A'.repeat(22), username: 'ada', display_name: 'ada' }
    ];
    const { body } = await openBody(client);
    const input = byTestId<HTMLInputElement>(body.node, 'share-user-input');
    input.value = 'ad';
    await body.picker.search();
    expect(body.picker.isOpen).toBe(true);
    const escape = new KeyboardEvent('keydown', {
      key: 'Escape',
      bubbles: true
    });
    Object.defineProperty(escape, 'target', { value: input });
    expect(body.handlesKey(escape)).toBe(true);
    key(input, 'Escape');
    expect(body.picker.isOpen).toBe(false);
    expect(body.handlesKey(escape)).toBe(false); // now Escape closes the dialog
  });

  it('shows a new link once, and lists it without its secret', async () => {
    const client = new RecordingClient();
    const { body, changes } = await openBody(client);
    const days = byTestId<HTMLInputElement>(body.node, 'share-link-days');
    const result = byTestId(body.node, 'share-link-result');
    expect(result.hidden).toBe(true);

    days.value = '400';
    await body.createLink();
    expect(byTestId(body.node, 'share-link-error').textContent).toBe(
      'Expiry: enter between 1 and 366 days.'
    );
    expect(client.calls.some(call => call.startsWith('grant '))).toBe(false);

    days.value = '3';
    const url = `http://lab/analytics/dashboards/${OBJECT}?share_token=ael_SECRET`;
    client.next = Promise.resolve(
      grant({
        id: 'l'.repeat(22),
        principal_type: 'link',
        principal_id: 'LOOKUP',
        principal_name: null,
        expires_at: '2026-11-30T12:00:00Z',
        token: 'ael_SECRET',
        url
      })
    );
    await body.createLink();
    expect(client.calls[client.calls.length - 1]).toBe(
      `grant dashboards ${JSON.stringify({
        object_id: OBJECT,
        principal_type: 'link',
        level: 'view',
        expires_at: '2026-11-30T12:00:00.000Z'
      })}`
    );
    expect(result.hidden).toBe(false);
    expect(byTestId<HTMLInputElement>(body.node, 'share-link-url').value).toBe(
      url
    );
    expect(
      byTestId<HTMLInputElement>(body.node, 'share-link-url').readOnly
    ).toBe(true);
    expect(byTestId(body.node, 'share-link-note').textContent).toContain(
      'shown only this once'
    );
    const list = byTestId(body.node, 'share-grants');
    expect(list.textContent).toContain('Link LOOKUP');
    expect(list.textContent).not.toContain('ael_SECRET');
    expect(body.grants.every(item => !item.token && !item.url)).toBe(true);
    expect(changes).toHaveLength(1);

    // Revoking the link just shown takes its address off the screen too.
    byTestId<HTMLButtonElement>(body.node, 'share-revoke').click();
    byTestId<HTMLButtonElement>(body.node, 'share-revoke-confirm').click();
    await flush();
    expect(result.hidden).toBe(true);
    expect(byTestId<HTMLInputElement>(body.node, 'share-link-url').value).toBe(
      ''
    );
  });

  it('offers no links where the area has none', async () => {
    const { body } = await openBody(new RecordingClient(), {
      area: 'datasources',
      allowLinks: false,
      levels: ['view', 'use', 'manage']
    });
    expect(
      body.node.querySelector('[data-testid="share-link-create"]')
    ).toBeNull();
    const levels = [
      ...body.node.querySelectorAll('[data-testid="share-level"] option')
    ].map(node => node.textContent);
    expect(levels).toEqual(['view', 'use', 'manage']);
  });

  it('shows the server message when the grants cannot be loaded, with a retry', async () => {
    const client = new RecordingClient();
    client.grants = () => Promise.reject(new Error('dashboard not found'));
    const { body } = await openBody(client);
    expect(byTestId(body.node, 'analytics-error').textContent).toBe(
      'dashboard not found'
    );
    client.grants = () => Promise.resolve([]);
    byTestId<HTMLButtonElement>(body.node, 'share-grants-retry').click();
    await flush();
    expect(byTestId(body.node, 'share-grants-empty')).toBeTruthy();
  });
});
