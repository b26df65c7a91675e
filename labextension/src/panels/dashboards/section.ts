/** The Dashboards section: (being built; see issue 9). */
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';

export class DashboardsSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({ ctx, id: 'analytics-ext:dashboards', label: 'Dashboards', watches: ['dashboards'] });
  }

  protected async render(): Promise<Node> {
    return h('div', { text: 'Dashboards' });
  }
}
