/** The Account section of the Analytics sidebar, the Account tab and its command. */
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { analyticsIcon } from '../../icons';
import { PLUGIN_NAMESPACE } from '../../tokens';
import { AccountSection } from './section';
import { openAccountTab } from './tab';

/** `analytics-ext:open-account-settings`: the Account tab in the main area. */
export const OPEN_ACCOUNT_COMMAND = `${PLUGIN_NAMESPACE}:open-account-settings`;

export function activateAccount(ctx: IAnalyticsContext): IAnalyticsSection {
  ctx.app.commands.addCommand(OPEN_ACCOUNT_COMMAND, {
    label: 'Open Account Settings',
    caption: 'Profile, avatar, settings, sessions, API keys and activity',
    icon: analyticsIcon,
    execute: () => openAccountTab(ctx)
  });
  ctx.palette?.addItem({
    command: OPEN_ACCOUNT_COMMAND,
    category: 'Analytics'
  });
  return new AccountSection(ctx);
}
