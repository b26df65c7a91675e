/** The Account section of the Analytics sidebar, its commands and menus. */
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { AccountSection } from './section';

export function activateAccount(ctx: IAnalyticsContext): IAnalyticsSection {
  return new AccountSection(ctx);
}
