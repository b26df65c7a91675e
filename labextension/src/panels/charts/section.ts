/** The Charts section: (being built; see issue 9). */
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';

export class ChartsSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({ ctx, id: 'analytics-ext:charts', label: 'Charts', watches: ['charts'] });
  }

  protected async render(): Promise<Node> {
    return h('div', { text: 'Charts' });
  }
}
