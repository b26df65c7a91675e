/** The Queries section: (being built; see issue 9). */
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';

export class QueriesSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({ ctx, id: 'analytics-ext:queries', label: 'Queries', watches: ['queries'] });
  }

  protected async render(): Promise<Node> {
    return h('div', { text: 'Queries' });
  }
}
