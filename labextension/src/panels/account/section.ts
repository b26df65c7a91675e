/** The Account section: (being built; see issue 9). */
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';

export class AccountSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({ ctx, id: 'analytics-ext:account', label: 'Account', watches: ['account'] });
  }

  protected async render(): Promise<Node> {
    return h('div', { text: 'Account' });
  }
}
