/** The Dashboards section of the Analytics sidebar, its commands and menus. */
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { DashboardsSection } from './section';

export function activateDashboards(ctx: IAnalyticsContext): IAnalyticsSection {
  return new DashboardsSection(ctx);
}
