/**
 * Login sessions (`GET api/auth/sessions`): where the account is signed in,
 * revoking one (its cookie and tokens stop working at once) or all others.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { errorMessage } from '../../api';
import type { ISession } from '../../api/account';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { emptyView } from '../../ui/status';
import { AccountBlock, CSS, button, type messageLine } from './block';
import { describeUserAgent, formatTime, sortSessions } from './format';

/** Ask before a destructive action; true if the user confirmed. */
export async function confirmAction(
  title: string,
  body: string,
  label: string
): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
  });
  return result.button.accept;
}

export class SessionsBlock extends AccountBlock {
  constructor(ctx: IAnalyticsContext) {
    super(
      ctx,
      'sessions',
      'Sessions',
      'Browsers and clients signed in to your account. Revoking a session signs it out at once.'
    );
  }

  protected async render(): Promise<Node> {
    const sessions = sortSessions(await this.ctx.api.account.sessions());
    const message = this.message;
    if (sessions.length === 0) {
      return h(
        'div',
        {},
        emptyView(
          'No login sessions. On a single-user server Jupyter’s token or password signs you in; it has no sessions to revoke.',
          'account-sessions-empty'
        )
      );
    }
    const list = h('ul', {
      className: `${CSS}-list`,
      testId: 'account-sessions-list'
    });
    for (const session of sessions) {
      list.append(this._row(session, message));
    }
    const others = sessions.filter(session => !session.current).length;
    const revokeOthers = button(
      'Sign out other sessions',
      'account-sessions-revoke-others',
      async () => {
        if (
          !(await confirmAction(
            'Sign out other sessions?',
            `${others} other session${others === 1 ? '' : 's'} will be signed out. This one stays.`,
            'Sign out'
          ))
        ) {
          return;
        }
        try {
          const revoked = await this.ctx.api.account.revokeOtherSessions();
          await this.load();
          this.changed();
          message.info(
            `Signed out ${revoked} session${revoked === 1 ? '' : 's'}.`
          );
        } catch (error) {
          message.error(errorMessage(error));
        }
      },
      'warn'
    );
    revokeOthers.disabled = others === 0;
    return h(
      'div',
      {},
      list,
      h('div', { className: `${CSS}-actions` }, revokeOthers)
    );
  }

  private _row(
    session: ISession,
    message: ReturnType<typeof messageLine>
  ): HTMLElement {
    const device = describeUserAgent(session.user_agent);
    const row = h('li', {
      className: `${CSS}-item`,
      testId: 'account-session',
      attrs: { 'data-session-id': session.id }
    });
    const title = h(
      'div',
      { className: `${CSS}-itemTitle` },
      h('span', { text: device, attrs: { title: session.user_agent ?? '' } })
    );
    if (session.current) {
      title.append(
        h('span', {
          className: `${CSS}-badge`,
          testId: 'account-session-current',
          text: 'this session'
        })
      );
    }
    const facts = h(
      'div',
      { className: `${CSS}-itemFacts` },
      h('span', { text: `IP ${session.ip_address ?? 'unknown'}` }),
      h('span', { text: `Signed in ${formatTime(session.created_at)}` }),
      h('span', { text: `Last seen ${formatTime(session.last_used_at)}` }),
      h('span', { text: `Expires ${formatTime(session.expires_at)}` })
    );
    row.append(h('div', { className: `${CSS}-itemMain` }, title, facts));
    if (!session.current) {
      row.append(
        button(
          'Revoke',
          'account-session-revoke',
          async () => {
            if (
              !(await confirmAction(
                'Revoke this session?',
                `${device} (IP ${session.ip_address ?? 'unknown'}) will be signed out.`,
                'Revoke'
              ))
            ) {
              return;
            }
            message.clear();
            try {
              await this.ctx.api.account.revokeSession(session.id);
              await this.load();
              this.changed();
            } catch (error) {
              message.error(errorMessage(error));
            }
          },
          'warn'
        )
      );
      row.lastElementChild?.setAttribute(
        'aria-label',
        `Revoke session: ${device}`
      );
    }
    return row;
  }
}
