/** The Queries section of the Analytics sidebar, its commands and menus. */
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { QueriesSection } from './section';

export function activateQueries(ctx: IAnalyticsContext): IAnalyticsSection {
  return new QueriesSection(ctx);
}
