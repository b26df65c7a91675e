/**
 * API keys (`api/auth/api-keys`): list (prefix only, never the secret),
 * create (the secret is shown once, in a read-only field with Copy, and
 * dropped when the box is closed), revoke.
 */
import { errorMessage } from '../../api';
import type {
  ApiKeyScope,
  IApiKey,
  IApiKeyCreate,
  ICreatedApiKey
} from '../../api/account';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { emptyView } from '../../ui/status';
import { AccountBlock, CSS, button } from './block';
import { formatTime } from './format';
import { confirmAction } from './sessions';

const SCOPES: [ApiKeyScope, string][] = [
  ['read', 'Read: list and run what you may see'],
  ['write', 'Write: also create, change and delete'],
  ['admin', 'Admin: also administer the server (administrators only)']
];

/**
 * The create body from the form's values; a problem in words if there is
 * one. `expiresOn` is a `YYYY-MM-DD` date: the key expires at the end of that
 * day in the browser's zone.
 */
export function apiKeyRequest(
  name: string,
  scopes: ApiKeyScope[],
  expiresOn: string
): IApiKeyCreate | { problem: string } {
  const trimmed = name.trim();
  if (!trimmed) {
    return {
      problem: 'Name: give the key a name, e.g. the script that will use it.'
    };
  }
  if (scopes.length === 0) {
    return { problem: 'Scopes: choose at least one.' };
  }
  const body: IApiKeyCreate = { name: trimmed, scopes, expires_at: null };
  if (expiresOn) {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(expiresOn);
    if (!match) {
      return { problem: 'Expires: not a date.' };
    }
    const end = new Date(
      Number(match[1]),
      Number(match[2]) - 1,
      Number(match[3]),
      23,
      59,
      59
    );
    body.expires_at = end.toISOString();
  }
  return body;
}

export class ApiKeysBlock extends AccountBlock {
  constructor(ctx: IAnalyticsContext) {
    super(
      ctx,
      'api-keys',
      'API keys',
      'Keys let scripts and notebooks elsewhere call this server as you: send “Authorization: Bearer <key>”.'
    );
    this._secretSlot = h('div', { className: `${CSS}-secretSlot` });
    this.node.insertBefore(this._secretSlot, this.body);
  }

  protected async render(): Promise<Node> {
    const [keys, user] = await Promise.all([
      this.ctx.api.account.apiKeys(),
      this.ctx.api.account.getUser()
    ]);
    return h('div', {}, this._createForm(user.is_admin), this._list(keys));
  }

  private _list(keys: IApiKey[]): HTMLElement {
    if (keys.length === 0) {
      return emptyView('No API keys yet.', 'account-api-keys-empty');
    }
    const list = h('ul', {
      className: `${CSS}-list`,
      testId: 'account-api-keys-list'
    });
    for (const key of keys) {
      const row = h('li', {
        className: `${CSS}-item`,
        testId: 'account-api-key',
        attrs: { 'data-key-id': key.id }
      });
      row.append(
        h(
          'div',
          { className: `${CSS}-itemMain` },
          h(
            'div',
            { className: `${CSS}-itemTitle` },
            h('span', { testId: 'account-api-key-name', text: key.name }),
            h('code', {
              testId: 'account-api-key-prefix',
              text: `${key.prefix}…`
            })
          ),
          h(
            'div',
            { className: `${CSS}-itemFacts` },
            h('span', { text: `Scopes: ${key.scopes.join(', ')}` }),
            h('span', { text: `Created ${formatTime(key.created_at)}` }),
            h('span', { text: `Last used ${formatTime(key.last_used_at)}` }),
            h('span', {
              text: `Expires ${formatTime(key.expires_at, 'never')}`
            })
          )
        ),
        button(
          'Revoke',
          'account-api-key-revoke',
          async () => {
            if (
              !(await confirmAction(
                'Revoke this API key?',
                `Scripts using “${key.name}” (${key.prefix}…) will be refused from now on.`,
                'Revoke'
              ))
            ) {
              return;
            }
            this.message.clear();
            try {
              await this.ctx.api.account.revokeApiKey(key.id);
              await this.load();
              this.message.info(`Revoked “${key.name}”.`);
              this.changed();
            } catch (error) {
              this.message.error(errorMessage(error));
            }
          },
          'warn'
        )
      );
      row.lastElementChild?.setAttribute(
        'aria-label',
        `Revoke API key ${key.name}`
      );
      list.append(row);
    }
    return list;
  }

  private _createForm(isAdmin: boolean): HTMLElement {
    const name = h('input', {
      className: 'jp-mod-styled',
      testId: 'account-api-key-create-name',
      attrs: {
        type: 'text',
        maxlength: '128',
        id: 'analytics-account-key-name',
        required: ''
      }
    });
    const expires = h('input', {
      className: 'jp-mod-styled',
      testId: 'account-api-key-create-expires',
      attrs: { type: 'date', id: 'analytics-account-key-expires' }
    });
    const tomorrow = new Date(Date.now() + 86_400_000);
    expires.min = tomorrow.toISOString().slice(0, 10);
    const scopes = h(
      'fieldset',
      { className: 'jp-AnalyticsSettingsForm-choices' },
      h('legend', { text: 'Scopes' })
    );
    const boxes = new Map<ApiKeyScope, HTMLInputElement>();
    for (const [scope, label] of SCOPES) {
      if (scope === 'admin' && !isAdmin) {
        continue;
      }
      const box = h('input', {
        testId: `account-api-key-scope-${scope}`,
        attrs: { type: 'checkbox', id: `analytics-account-key-scope-${scope}` }
      });
      box.checked = scope === 'read';
      boxes.set(scope, box);
      scopes.append(
        h(
          'span',
          { className: 'jp-AnalyticsSettingsForm-choice' },
          box,
          h('label', { text: label, attrs: { for: box.id } })
        )
      );
    }
    const problem = h('div', {
      className: `${CSS}-message ${CSS}-message-error`,
      testId: 'account-api-key-create-error',
      attrs: { role: 'alert' }
    });
    problem.hidden = true;
    const submit = h('button', {
      className: 'jp-mod-styled jp-mod-accept',
      testId: 'account-api-key-create',
      text: 'Create key',
      attrs: { type: 'submit' }
    });
    const form = h(
      'form',
      {
        className: `${CSS}-form ${CSS}-keyForm`,
        attrs: { novalidate: '', 'aria-label': 'New API key' }
      },
      h(
        'div',
        { className: 'jp-AnalyticsSettingsForm-row' },
        h('label', { text: 'Name', attrs: { for: name.id } }),
        name
      ),
      scopes,
      h(
        'div',
        { className: 'jp-AnalyticsSettingsForm-row' },
        h('label', {
          text: 'Expires on (optional)',
          attrs: { for: expires.id }
        }),
        expires
      ),
      h('div', { className: 'jp-AnalyticsSettingsForm-actions' }, submit),
      problem
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      if (submit.disabled) {
        return;
      }
      const chosen = [...boxes]
        .filter(([, box]) => box.checked)
        .map(([scope]) => scope);
      const request = apiKeyRequest(name.value, chosen, expires.value);
      if ('problem' in request) {
        problem.hidden = false;
        problem.textContent = request.problem;
        return;
      }
      problem.hidden = true;
      submit.disabled = true;
      void this.ctx.api.account
        .createApiKey(request)
        .then(async created => {
          this._showSecret(created);
          this.changed();
          await this.load();
        })
        .catch(error => {
          problem.hidden = false;
          problem.textContent = errorMessage(error);
        })
        .finally(() => {
          submit.disabled = false;
        });
    });
    return h(
      'details',
      { className: `${CSS}-create`, testId: 'account-api-key-create-section' },
      h('summary', { text: 'Create an API key' }),
      form
    );
  }

  /** The new key's secret, once: closing the box removes it from the page for good. */
  private _showSecret(created: ICreatedApiKey): void {
    const field = h('input', {
      className: `jp-mod-styled ${CSS}-secret`,
      testId: 'account-api-key-secret',
      attrs: {
        type: 'text',
        readonly: '',
        id: 'analytics-account-key-secret',
        'aria-label': 'New API key secret',
        'aria-describedby': 'analytics-account-key-warning',
        spellcheck: 'false',
        autocomplete: 'off'
      }
    });
    field.value = created.token;
    const copied = h('span', {
      className: `${CSS}-hint`,
      attrs: { role: 'status' }
    });
    const copy = button('Copy', 'account-api-key-secret-copy', async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        copied.textContent = 'Copied.';
      } catch {
        field.select();
        copied.textContent = 'Select and copy it with Ctrl+C.';
      }
    });
    const close = button(
      'I have saved it',
      'account-api-key-secret-close',
      () => {
        field.value = '';
        this._secretSlot.replaceChildren();
      },
      'accept'
    );
    const box = h(
      'div',
      {
        className: `${CSS}-secretBox`,
        testId: 'account-api-key-secret-box',
        attrs: { role: 'region', 'aria-label': 'New API key secret' }
      },
      h('div', {
        className: `${CSS}-itemTitle`,
        text: `New key “${created.name}”`
      }),
      h('p', {
        className: `${CSS}-warning`,
        text: 'Copy this secret now: it is shown only once and cannot be shown again. Anyone holding it can act as you within its scopes.',
        attrs: { id: 'analytics-account-key-warning' }
      }),
      h('div', { className: `${CSS}-secretLine` }, field, copy),
      copied,
      h('div', { className: `${CSS}-actions` }, close)
    );
    this._secretSlot.replaceChildren(box);
    field.focus();
    field.select();
  }

  private readonly _secretSlot: HTMLElement;
}
