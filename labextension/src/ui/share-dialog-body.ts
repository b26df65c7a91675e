/**
 * The share dialog's content: who has access to one object (the grant list,
 * each revocable), sharing with a person found by name, and, where the object
 * may be shared by link, the link box. It owns the grants as last loaded and
 * every call to the area's `api/<area>/share` routes; changes are made as the
 * user acts and the server's messages are shown as they are. Usable without
 * the Dialog around it (tests build it directly).
 */
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../api/request';
import type { IGrant, SharingAPI, ShareArea } from '../api/sharing';
import { h } from './dom';
import { alertBox, button, showAlert } from './share-controls';
import { renderGrantList } from './share-grant-list';
import { ShareLinkBox } from './share-link-box';
import { grantRows } from './share-model';
import { UserPicker } from './share-user-picker';
import { errorView, loadingView } from './status';

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

const KIND_OF: Record<ShareArea, string> = {
  datasources: 'datasource',
  query: 'query',
  chart: 'chart',
  dashboards: 'dashboard'
};

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

    if (options.allowLinks) {
      this._linkBox = new ShareLinkBox({
        idPrefix: this._picker.input.id,
        kind,
        create: expiresAt =>
          this._client.grant(this._options.area, {
            object_id: this._options.objectId,
            object_type: this._options.objectType,
            principal_type: 'link',
            level: 'view',
            ...(expiresAt ? { expires_at: expiresAt } : {})
          }),
        onCreated: listed => this._upsert(listed),
        onChange: () => this._hooks.onChange?.(),
        now: () => this._now()
      });
      this.node.append(this._linkBox.node);
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
      if (this._linkBox && target === this._linkBox.daysInput) {
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
    await this._linkBox?.createLink();
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
      this._linkBox?.forget(grantId);
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
    this._share.textContent = this._pendingUser ? 'Sharing…' : 'Share';
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
  private readonly _linkBox: ShareLinkBox | null = null;
  private _grants: IGrant[] = [];
  private _pendingUser = false;
  private _revoking: string | null = null;
  private _confirming: string | null = null;
}
