/** The Charts section of the Analytics sidebar, its commands and menus. */
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { registerChartCommands } from './commands';
import { ChartsSection } from './section';

export function activateCharts(ctx: IAnalyticsContext): IAnalyticsSection {
  return new ChartsSection(ctx, registerChartCommands(ctx));
}
