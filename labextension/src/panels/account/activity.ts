/** The activity feed (`GET api/user/activity`), newest first, a page at a time. */
import { errorMessage } from '../../api';
import type { IActivityEvent } from '../../api/account';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { emptyView } from '../../ui/status';
import { AccountBlock, CSS, button } from './block';
import { describeEventObject, describeEventType, formatTime } from './format';

export const ACTIVITY_PAGE_SIZE = 20;

export function activityRow(event: IActivityEvent): HTMLElement {
  const object = describeEventObject(event);
  return h(
    'li',
    {
      className: `${CSS}-event`,
      testId: 'account-activity-event',
      attrs: { 'data-type': event.type }
    },
    h('span', {
      className: `${CSS}-eventWhat`,
      text: describeEventType(event.type)
    }),
    h('span', { className: `${CSS}-eventObject`, text: object }),
    h('time', {
      className: `${CSS}-eventWhen`,
      text: formatTime(event.created_at),
      attrs: { datetime: event.created_at }
    })
  );
}

export class ActivityBlock extends AccountBlock {
  constructor(ctx: IAnalyticsContext) {
    super(
      ctx,
      'activity',
      'Activity',
      'What happened on your account, newest first.'
    );
  }

  protected async render(): Promise<Node> {
    const first = await this.ctx.api.account.activity({
      limit: ACTIVITY_PAGE_SIZE
    });
    if (first.items.length === 0) {
      return emptyView('No activity yet.', 'account-activity-empty');
    }
    const list = h('ol', {
      className: `${CSS}-events`,
      testId: 'account-activity-list'
    });
    list.append(...first.items.map(activityRow));
    const count = h('div', {
      className: `${CSS}-hint`,
      testId: 'account-activity-count'
    });
    let shown = first.items.length;
    let cursor = first.next;
    const showCount = (total: number): void => {
      count.textContent = `Showing ${shown} of ${total}`;
    };
    showCount(first.total);
    const more = button('Load more', 'account-activity-more', async () => {
      this.message.clear();
      try {
        const page = await this.ctx.api.account.activity({
          cursor,
          limit: ACTIVITY_PAGE_SIZE
        });
        list.append(...page.items.map(activityRow));
        shown += page.items.length;
        cursor = page.next;
        showCount(page.total);
        more.hidden = cursor === null;
      } catch (error) {
        this.message.error(errorMessage(error));
      }
    });
    more.hidden = cursor === null;
    return h(
      'div',
      {},
      list,
      h('div', { className: `${CSS}-actions` }, more, count)
    );
  }
}
