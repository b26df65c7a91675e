/**
 * The share dialog's "Who has access" list: one row per person or link with
 * its level and a Revoke button that asks once more in place (Revoke →
 * Revoke/Cancel) before anything is sent. A pure view of `IShareRow`s: the
 * dialog body owns the grants and the revocation, so this can be tested from
 * fixtures and re-rendered whole after every change.
 */
import { h } from './dom';
import { button } from './share-controls';
import type { IShareRow } from './share-model';

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
