/**
 * The share dialog every panel uses: who has access to one object (people
 * and share links, each revocable), sharing with a person found by name, and
 * creating a share link whose address is shown once. All of it talks to the
 * area's `api/<area>/share` routes and `api/users`; the server decides who
 * may do what and its messages are shown as they are.
 */
import { Clipboard, Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../api/request';
import type { IGrant, IUserMatch, SharingAPI, ShareArea } from '../api/sharing';
import type { AnalyticsArea, IAnalyticsContext } from '../context';
import { h } from './dom';
import {
  DEFAULT_LINK_DAYS,
  MAX_LINK_DAYS,
  type IShareRow,
  grantRows,
  linkExpiry
} from './share-model';
import { UserPicker } from './share-user-picker';
import { errorView, loadingView } from './status';

export type { ShareArea } from '../api/sharing';

export interface IShareDialogOptions {
  /** The area whose `api/<area>/share` routes hold the object's grants. */
  area: ShareArea;
  objectId: string;
  /** For areas with two kinds: `query_template`, `chart_template`. */
  objectType?: string;
  /** Shown in the title (as text). */
  objectName: string;
  /** The levels a person can be given, least first (e.g. view, edit, manage). */
  levels: string[];
  /** Whether the object can be shared by link (not datasources). */
  allowLinks: boolean;
}

/** The calls the dialog makes; `SharingAPI` in the Lab. */
export type SharingClient = Pick<
  SharingAPI,
  'grants' | 'grant' | 'revoke' | 'findUsers'
>;

const AREA_OF: Record<ShareArea, AnalyticsArea> = {
  datasources: 'datasources',
  query: 'queries',
  chart: 'charts',
  dashboards: 'dashboards'
};

const KIND_OF: Record<ShareArea, string> = {
  datasources: 'datasource',
  query: 'query',
  chart: 'chart',
  dashboards: 'dashboard'
};

/**
 * Open the share dialog for one object and resolve when it is closed.
 * Changes are made as the user acts (there is nothing to save at the end);
 * each one tells the object's area that it changed.
 */
export async function openShareDialog(
  ctx: IAnalyticsContext,
  options: IShareDialogOptions
): Promise<void> {
  const body = new ShareDialogBody(ctx.api.sharing, options, {
    onChange: () =>
      ctx.notifyChanged({ area: AREA_OF[options.area], id: options.objectId })
  });
  const dialog = new ShareDialog(body, options.objectName);
  try {
    await dialog.launch();
  } finally {
    body.dispose();
    dialog.dispose();
  }
}

/**
 * JupyterLab's Dialog takes Enter in any text field as "press the default
 * button" and Escape as "close", before the field sees the key. The share
 * form's fields use both keys themselves (pick a suggestion, create a link,
 * close the suggestions), so the body decides first.
 */
class ShareDialog extends Dialog<void> {
  constructor(body: ShareDialogBody, objectName: string) {
    super({
      title: `Share “${objectName}”`,
      body,
      buttons: [Dialog.okButton({ label: 'Done' })],
      focusNodeSelector: '[data-testid="share-user-input"]'
    });
    this._shareBody = body;
    this.addClass('jp-AnalyticsShareDialog');
  }

  protected override _evtKeydown(event: KeyboardEvent): void {
    if (this._shareBody.handlesKey(event)) {
      return;
    }
    super._evtKeydown(event);
  }

  private readonly _shareBody: ShareDialogBody;
}

export interface IShareBodyHooks {
  /** Called after every change the server accepted. */
  onChange?: () => void;
  /** The current time (tests fix it). */
  now?: () => Date;
  /** Debounce of the user search. */
  debounceMs?: number;
}

/** The dialog's content; usable on its own (tests build it directly). */
export class ShareDialogBody extends Widget {
  /** Settles once the first grant list has loaded (or failed). */
  readonly ready: Promise<void>;

  constructor(
    client: SharingClient,
    options: IShareDialogOptions,
    hooks: IShareBodyHooks = {}
  ) {
    super();
    this._client = client;
    this._options = options;
    this._hooks = hooks;
    this.addClass('jp-AnalyticsShare');
    this.node.dataset.testid = 'share-dialog';
    const kind = (options.objectType ?? KIND_OF[options.area]).replace(
      /_/g,
      ' '
    );

    this._grantsBox = h('div', {
      className: 'jp-AnalyticsShare-grants',
      testId: 'share-grants-box',
      attrs: { 'aria-live': 'polite' }
    });
    this._grantsError = alertBox('share-grants-error');

    this._picker = new UserPicker({
      find: prefix => this._client.findUsers(prefix, 10),
      onPick: () => this._sync(),
      idPrefix: 'jp-AnalyticsShare-user',
      debounceMs: hooks.debounceMs
    });
    this._level = h('select', {
      className: 'jp-mod-styled jp-AnalyticsShare-level',
      testId: 'share-level',
      attrs: { id: `${this._picker.input.id}-level` }
    });
    for (const level of options.levels) {
      this._level.append(h('option', { text: level, attrs: { value: level } }));
    }
    this._share = button('Share', 'share-submit', 'jp-mod-accept');
    this._share.addEventListener('click', () => void this.shareWithUser());
    this._userError = alertBox('share-user-error');

    this.node.append(
      h(
        'section',
        { className: 'jp-AnalyticsShare-section' },
        h('h3', {
          className: 'jp-AnalyticsShare-heading',
          text: 'Who has access'
        }),
        this._grantsError,
        this._grantsBox
      ),
      h(
        'section',
        { className: 'jp-AnalyticsShare-section' },
        h('h3', {
          className: 'jp-AnalyticsShare-heading',
          text: 'Share with a person'
        }),
        h(
          'div',
          { className: 'jp-AnalyticsShare-row' },
          h(
            'label',
            {
              className: 'jp-AnalyticsShare-field jp-AnalyticsShare-grow',
              attrs: { for: this._picker.input.id }
            },
            h('span', { text: 'User' })
          ),
          h(
            'label',
            {
              className: 'jp-AnalyticsShare-field',
              attrs: { for: this._level.id }
            },
            h('span', { text: 'Permission' })
          )
        ),
        h(
          'div',
          { className: 'jp-AnalyticsShare-row' },
          h('div', { className: 'jp-AnalyticsShare-grow' }, this._picker.node),
          this._level,
          this._share
        ),
        this._userError
      )
    );

    this._linkDays = h('input', {
      className: 'jp-mod-styled jp-AnalyticsShare-days',
      testId: 'share-link-days',
      attrs: {
        id: `${this._picker.input.id}-days`,
        type: 'number',
        min: '1',
        max: String(MAX_LINK_DAYS),
        step: '1',
        placeholder: String(DEFAULT_LINK_DAYS)
      }
    });
    this._createLink = button('Create link', 'share-link-create');
    this._createLink.addEventListener('click', () => void this.createLink());
    this._linkError = alertBox('share-link-error');
    this._linkUrl = h('input', {
      className: 'jp-mod-styled jp-AnalyticsShare-url',
      testId: 'share-link-url',
      attrs: {
        id: `${this._picker.input.id}-url`,
        type: 'text',
        readonly: '',
        'aria-label': 'New share link'
      }
    });
    this._copy = button('Copy', 'share-link-copy');
    this._copy.addEventListener('click', () => this._copyLink());
    this._copyStatus = h('span', {
      className: 'jp-AnalyticsShare-hint',
      testId: 'share-link-copied',
      attrs: { 'aria-live': 'polite' }
    });
    this._linkResult = h(
      'div',
      {
        className: 'jp-AnalyticsShare-linkResult',
        testId: 'share-link-result'
      },
      h(
        'div',
        { className: 'jp-AnalyticsShare-row' },
        this._linkUrl,
        this._copy
      ),
      h('p', {
        className: 'jp-AnalyticsShare-note',
        testId: 'share-link-note',
        text:
          'Copy this link now: it is shown only this once. ' +
          'The list above keeps the link (to revoke it) but never its address.'
      }),
      this._copyStatus
    );
    this._linkResult.hidden = true;
    if (options.allowLinks) {
      this.node.append(
        h(
          'section',
          { className: 'jp-AnalyticsShare-section' },
          h('h3', {
            className: 'jp-AnalyticsShare-heading',
            text: 'Share link'
          }),
          h('p', {
            className: 'jp-AnalyticsShare-hint',
            text: `Anyone with the link can view this ${kind} (view only, nothing else) until it expires or is revoked.`
          }),
          h(
            'div',
            { className: 'jp-AnalyticsShare-row' },
            h(
              'label',
              {
                className: 'jp-AnalyticsShare-field',
                attrs: { for: this._linkDays.id }
              },
              h('span', { text: 'Expires after (days)' })
            ),
            this._linkDays,
            this._createLink
          ),
          this._linkError,
          this._linkResult
        )
      );
    }
    this._sync();
    this.ready = this.load();
  }

  /** The grants as last loaded (tests read them). */
  get grants(): readonly IGrant[] {
    return this._grants;
  }

  /** The user picker (tests drive it). */
  get picker(): UserPicker {
    return this._picker;
  }

  /**
   * Whether the body handles `event` itself (so the Dialog must not):
   * Enter in its fields, Escape while suggestions are open.
   */
  handlesKey(event: KeyboardEvent): boolean {
    const target = event.target;
    if (!(target instanceof HTMLElement) || !this.node.contains(target)) {
      return false;
    }
    const field =
      target instanceof HTMLInputElement || target instanceof HTMLSelectElement;
    if (event.key === 'Enter') {
      if (target === this._linkDays) {
        event.preventDefault();
        void this.createLink();
      }
      return field;
    }
    if (event.key === 'Escape') {
      return target === this._picker.input && this._picker.isOpen;
    }
    return false;
  }

  /** (Re)load the grant list from the server. */
  async load(): Promise<void> {
    this._grantsBox.replaceChildren(loadingView('Loading who has access…'));
    try {
      this._grants = await this._client.grants(
        this._options.area,
        this._options.objectId,
        this._options.objectType
      );
    } catch (error) {
      const retry = button('Retry', 'share-grants-retry');
      retry.addEventListener('click', () => void this.load());
      this._grantsBox.replaceChildren(
        errorView(errorMessage(error), 'Could not load who has access'),
        retry
      );
      return;
    }
    this._renderGrants();
  }

  /** Give the picked user the chosen level. */
  async shareWithUser(): Promise<void> {
    const user = this._picker.picked;
    if (this._pendingUser) {
      return;
    }
    if (!user) {
      showAlert(this._userError, 'Pick a user from the suggestions first.');
      return;
    }
    this._pendingUser = true;
    showAlert(this._userError, '');
    this._sync();
    try {
      const grant = await this._client.grant(this._options.area, {
        object_id: this._options.objectId,
        object_type: this._options.objectType,
        principal_type: 'user',
        principal_id: user.id,
        level: this._level.value
      });
      this._upsert(grant);
      this._picker.reset();
      this._hooks.onChange?.();
    } catch (error) {
      showAlert(this._userError, errorMessage(error));
    } finally {
      this._pendingUser = false;
      this._sync();
    }
  }

  /** Create a share link and show its address (the only time it is sent). */
  async createLink(): Promise<void> {
    if (this._pendingLink || !this._options.allowLinks) {
      return;
    }
    const expiry = linkExpiry(this._linkDays.value, this._now());
    if (!expiry.ok) {
      showAlert(this._linkError, expiry.message);
      return;
    }
    this._pendingLink = true;
    showAlert(this._linkError, '');
    this._sync();
    try {
      const grant = await this._client.grant(this._options.area, {
        object_id: this._options.objectId,
        object_type: this._options.objectType,
        principal_type: 'link',
        level: 'view',
        ...(expiry.expiresAt ? { expires_at: expiry.expiresAt } : {})
      });
      const { token: _token, url, ...listed } = grant;
      this._upsert({ ...listed, token: null, url: null });
      this._shownLink = grant.id;
      this._linkUrl.value = url ?? '';
      this._copyStatus.textContent = '';
      this._linkResult.hidden = false;
      this._linkDays.value = '';
      this._linkResult.scrollIntoView?.({ block: 'nearest' });
      this._linkUrl.focus();
      this._linkUrl.select();
      this._hooks.onChange?.();
    } catch (error) {
      showAlert(this._linkError, errorMessage(error));
    } finally {
      this._pendingLink = false;
      this._sync();
    }
  }

  /** Revoke one grant (after the row's confirmation). */
  async revoke(grantId: string): Promise<void> {
    if (this._revoking !== null) {
      return;
    }
    this._revoking = grantId;
    showAlert(this._grantsError, '');
    this._renderGrants();
    try {
      await this._client.revoke(this._options.area, grantId);
      this._grants = this._grants.filter(grant => grant.id !== grantId);
      if (this._shownLink === grantId) {
        this._shownLink = null;
        this._linkUrl.value = '';
        this._linkResult.hidden = true;
      }
      this._hooks.onChange?.();
    } catch (error) {
      showAlert(this._grantsError, errorMessage(error));
    } finally {
      this._revoking = null;
      this._confirming = null;
      this._renderGrants();
    }
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._picker.dispose();
    super.dispose();
  }

  private _now(): Date {
    return this._hooks.now?.() ?? new Date();
  }

  private _upsert(grant: IGrant): void {
    const index = this._grants.findIndex(item => item.id === grant.id);
    this._grants =
      index >= 0
        ? this._grants.map(item => (item.id === grant.id ? grant : item))
        : [...this._grants, grant];
    this._renderGrants();
  }

  private _renderGrants(): void {
    const rows = grantRows(this._grants, this._now());
    this._grantsBox.replaceChildren(
      renderGrantList(rows, {
        confirming: this._confirming,
        revoking: this._revoking,
        onRevoke: id => {
          this._confirming = id;
          this._renderGrants();
          this._grantsBox
            .querySelector<HTMLButtonElement>(
              '[data-testid="share-revoke-confirm"]'
            )
            ?.focus();
        },
        onConfirm: id => void this.revoke(id),
        onCancel: () => {
          this._confirming = null;
          this._renderGrants();
        }
      })
    );
  }

  private _sync(): void {
    this._picker.disabled = this._pendingUser;
    this._level.disabled = this._pendingUser;
    this._share.disabled = this._pendingUser || this._picker.picked === null;
    this._createLink.disabled = this._pendingLink;
    this._linkDays.disabled = this._pendingLink;
    this._share.textContent = this._pendingUser ? 'Sharing…' : 'Share';
    this._createLink.textContent = this._pendingLink
      ? 'Creating…'
      : 'Create link';
  }

  private _copyLink(): void {
    if (!this._linkUrl.value) {
      return;
    }
    this._linkUrl.select();
    Clipboard.copyToSystem(this._linkUrl.value);
    this._copyStatus.textContent = 'Copied to the clipboard.';
  }

  private readonly _client: SharingClient;
  private readonly _options: IShareDialogOptions;
  private readonly _hooks: IShareBodyHooks;
  private readonly _grantsBox: HTMLElement;
  private readonly _grantsError: HTMLElement;
  private readonly _picker: UserPicker;
  private readonly _level: HTMLSelectElement;
  private readonly _share: HTMLButtonElement;
  private readonly _userError: HTMLElement;
  private readonly _linkDays: HTMLInputElement;
  private readonly _createLink: HTMLButtonElement;
  private readonly _linkError: HTMLElement;
  private readonly _linkResult: HTMLElement;
  private readonly _linkUrl: HTMLInputElement;
  private readonly _copy: HTMLButtonElement;
  private readonly _copyStatus: HTMLElement;
  private _grants: IGrant[] = [];
  private _pendingUser = false;
  private _pendingLink = false;
  private _revoking: string | null = null;
  private _confirming: string | null = null;
  private _shownLink: string | null = null;
}

export interface IGrantListHandlers {
  /** The row asking "revoke?" (its Revoke became Confirm/Cancel). */
  confirming: string | null;
  /** The row whose revocation is under way. */
  revoking: string | null;
  onRevoke: (id: string) => void;
  onConfirm: (id: string) => void;
  onCancel: () => void;
}

/** The grant list: one row per person or link, names as text. */
export function renderGrantList(
  rows: IShareRow[],
  handlers: IGrantListHandlers
): HTMLElement {
  if (rows.length === 0) {
    return h('div', {
      className: 'jp-Analytics-empty',
      testId: 'share-grants-empty',
      text: 'Only you (and administrators) have access.'
    });
  }
  const busy = handlers.revoking !== null;
  return h(
    'ul',
    {
      className: 'jp-AnalyticsShare-list',
      testId: 'share-grants',
      attrs: { 'aria-label': 'Who has access' }
    },
    ...rows.map(row => {
      const actions = h('div', { className: 'jp-AnalyticsShare-actions' });
      if (handlers.confirming === row.id) {
        const confirm = button(
          handlers.revoking === row.id ? 'Revoking…' : 'Revoke',
          'share-revoke-confirm',
          'jp-mod-warn'
        );
        confirm.setAttribute('aria-label', `Confirm revoking ${row.label}`);
        confirm.disabled = busy;
        confirm.addEventListener('click', () => handlers.onConfirm(row.id));
        const cancel = button('Cancel', 'share-revoke-cancel');
        cancel.disabled = busy;
        cancel.addEventListener('click', () => handlers.onCancel());
        actions.append(
          h('span', {
            className: 'jp-AnalyticsShare-confirmText',
            text: row.kind === 'link' ? 'Revoke this link?' : 'Remove access?'
          }),
          confirm,
          cancel
        );
      } else {
        const revoke = button('Revoke', 'share-revoke');
        revoke.setAttribute('aria-label', `Revoke ${row.label}`);
        revoke.disabled = busy;
        revoke.addEventListener('click', () => handlers.onRevoke(row.id));
        actions.append(revoke);
      }
      const item = h(
        'li',
        {
          className: `jp-AnalyticsShare-grant${row.expired ? ' jp-mod-expired' : ''}`,
          testId: 'share-grant',
          attrs: { 'data-grant-id': row.id, 'data-kind': row.kind }
        },
        h(
          'div',
          { className: 'jp-AnalyticsShare-who' },
          h('span', {
            className: 'jp-AnalyticsShare-name',
            testId: 'share-grant-name',
            text: row.label
          }),
          h('span', {
            className: 'jp-AnalyticsShare-detail',
            testId: 'share-grant-detail',
            text: row.detail
          })
        ),
        h('span', {
          className: 'jp-AnalyticsShare-badge',
          testId: 'share-grant-level',
          text: row.level
        }),
        actions
      );
      return item;
    })
  );
}

function button(label: string, testId: string, mod = ''): HTMLButtonElement {
  return h('button', {
    className: `jp-mod-styled jp-AnalyticsShare-button ${mod}`.trim(),
    testId,
    text: label,
    attrs: { type: 'button' }
  });
}

function alertBox(testId: string): HTMLElement {
  const node = h('div', {
    className: 'jp-AnalyticsShare-error',
    testId,
    attrs: { role: 'alert' }
  });
  node.hidden = true;
  return node;
}

function showAlert(node: HTMLElement, message: string): void {
  node.textContent = message;
  node.hidden = message === '';
}

/** For callers that want the user type without importing the API module. */
export type { IUserMatch };
