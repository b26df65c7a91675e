/** The Datasources section of the Analytics sidebar, its commands and menus. */
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { DatasourcesSection } from './section';

export function activateDatasources(ctx: IAnalyticsContext): IAnalyticsSection {
  return new DatasourcesSection(ctx);
}
