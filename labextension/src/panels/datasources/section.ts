/** The Datasources section: (being built; see issue 9). */
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';

export class DatasourcesSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({ ctx, id: 'analytics-ext:datasources', label: 'Datasources', watches: ['datasources'] });
  }

  protected async render(): Promise<Node> {
    return h('div', { text: 'Datasources' });
  }
}
