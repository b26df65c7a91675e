/**
 * The share dialog's "Share link" section: how many days a new link lasts,
 * Create link, and the new link's address with a Copy button. The server
 * sends a link's address only in the answer that creates it (the grant list
 * keeps the link, to revoke it, never its address), so this box is the one
 * place it is ever shown, and it says so.
 */
import { Clipboard } from '@jupyterlab/apputils';

import { errorMessage } from '../api/request';
import type { IGrant } from '../api/sharing';
import { h } from './dom';
import { alertBox, button, showAlert } from './share-controls';
import { DEFAULT_LINK_DAYS, MAX_LINK_DAYS, linkExpiry } from './share-model';

export interface IShareLinkBoxOptions {
  /** Prefix of the box's element ids, unique in the document. */
  idPrefix: string;
  /** What the object is called in the hint (`dashboard`, `query template`). */
  kind: string;
  /** Ask the server for a view link expiring at `expiresAt` (none: the server's default). */
  create: (expiresAt: string | undefined) => Promise<IGrant>;
  /** The new link as the grant list keeps it (without its token and address). */
  onCreated: (listed: IGrant) => void;
  /** Called once the new address is shown. */
  onChange?: () => void;
  /** The current time (tests fix it). */
  now: () => Date;
}

/** The "Share link" section; `node` is what the dialog appends. */
export class ShareLinkBox {
  readonly node: HTMLElement;

  constructor(options: IShareLinkBoxOptions) {
    this._options = options;
    this._days = h('input', {
      className: 'jp-mod-styled jp-AnalyticsShare-days',
      testId: 'share-link-days',
      attrs: {
        id: `${options.idPrefix}-days`,
        type: 'number',
        min: '1',
        max: String(MAX_LINK_DAYS),
        step: '1',
        placeholder: String(DEFAULT_LINK_DAYS)
      }
    });
    this._create = button('Create link', 'share-link-create');
    this._create.addEventListener('click', () => void this.createLink());
    this._error = alertBox('share-link-error');
    this._url = h('input', {
      className: 'jp-mod-styled jp-AnalyticsShare-url',
      testId: 'share-link-url',
      attrs: {
        id: `${options.idPrefix}-url`,
        type: 'text',
        readonly: '',
        'aria-label': 'New share link'
      }
    });
    const copy = button('Copy', 'share-link-copy');
    copy.addEventListener('click', () => this._copyLink());
    this._copyStatus = h('span', {
      className: 'jp-AnalyticsShare-hint',
      testId: 'share-link-copied',
      attrs: { 'aria-live': 'polite' }
    });
    this._result = h(
      'div',
      {
        className: 'jp-AnalyticsShare-linkResult',
        testId: 'share-link-result'
      },
      h('div', { className: 'jp-AnalyticsShare-row' }, this._url, copy),
      h('p', {
        className: 'jp-AnalyticsShare-note',
        testId: 'share-link-note',
        text:
          'Copy this link now: it is shown only this once. ' +
          'The list above keeps the link (to revoke it) but never its address.'
      }),
      this._copyStatus
    );
    this._result.hidden = true;
    this.node = h(
      'section',
      { className: 'jp-AnalyticsShare-section' },
      h('h3', {
        className: 'jp-AnalyticsShare-heading',
        text: 'Share link'
      }),
      h('p', {
        className: 'jp-AnalyticsShare-hint',
        text: `Anyone with the link can view this ${options.kind} (view only, nothing else) until it expires or is revoked.`
      }),
      h(
        'div',
        { className: 'jp-AnalyticsShare-row' },
        h(
          'label',
          {
            className: 'jp-AnalyticsShare-field',
            attrs: { for: this._days.id }
          },
          h('span', { text: 'Expires after (days)' })
        ),
        this._days,
        this._create
      ),
      this._error,
      this._result
    );
    this._sync();
  }

  /** The days field: Enter in it creates the link (the dialog asks). */
  get daysInput(): HTMLInputElement {
    return this._days;
  }

  /** Create a share link and show its address (the only time it is sent). */
  async createLink(): Promise<void> {
    if (this._pending) {
      return;
    }
    const expiry = linkExpiry(this._days.value, this._options.now());
    if (!expiry.ok) {
      showAlert(this._error, expiry.message);
      return;
    }
    this._pending = true;
    showAlert(this._error, '');
    this._sync();
    try {
      const grant = await this._options.create(expiry.expiresAt);
      const { token: _token, url, ...listed } = grant;
      this._options.onCreated({ ...listed, token: null, url: null });
      this._shown = grant.id;
      this._url.value = url ?? '';
      this._copyStatus.textContent = '';
      this._result.hidden = false;
      this._days.value = '';
      this._result.scrollIntoView?.({ block: 'nearest' });
      this._url.focus();
      this._url.select();
      this._options.onChange?.();
    } catch (error) {
      showAlert(this._error, errorMessage(error));
    } finally {
      this._pending = false;
      this._sync();
    }
  }

  /** A grant was revoked: if it is the link shown, its address goes too. */
  forget(grantId: string): void {
    if (this._shown === grantId) {
      this._shown = null;
      this._url.value = '';
      this._result.hidden = true;
    }
  }

  private _sync(): void {
    this._create.disabled = this._pending;
    this._days.disabled = this._pending;
    this._create.textContent = this._pending ? 'Creating…' : 'Create link';
  }

  private _copyLink(): void {
    if (!this._url.value) {
      return;
    }
    this._url.select();
    Clipboard.copyToSystem(this._url.value);
    this._copyStatus.textContent = 'Copied to the clipboard.';
  }

  private readonly _options: IShareLinkBoxOptions;
  private readonly _days: HTMLInputElement;
  private readonly _create: HTMLButtonElement;
  private readonly _error: HTMLElement;
  private readonly _result: HTMLElement;
  private readonly _url: HTMLInputElement;
  private readonly _copyStatus: HTMLElement;
  private _pending = false;
  private _shown: string | null = null;
}
