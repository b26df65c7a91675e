/** The Dashboards section of the Analytics sidebar, its commands and menus. */
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { registerDashboardCommands } from './commands';
import { DashboardsSection } from './section';

export function activateDashboards(ctx: IAnalyticsContext): IAnalyticsSection {
  const section = new DashboardsSection(ctx);
  registerDashboardCommands(ctx, section);
  return section;
}
