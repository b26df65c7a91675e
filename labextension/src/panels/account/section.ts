/**
 * The Account section of the sidebar: who is signed in (avatar, names, email,
 * admin badge), the server (version, mode, store), and ways into the Account tab.
 */
import { settingsIcon } from '@jupyterlab/ui-components';

import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';
import { CSS, button } from './block';
import { type AccountBlockKey, openAccountTab } from './tab';
import { serverView, userView } from './views';

export class AccountSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({
      ctx,
      id: 'analytics-ext:account',
      label: 'Account',
      watches: ['account'],
      errorTitle: 'Could not load analytics information'
    });
    this.addButton({
      icon: settingsIcon,
      tooltip: 'Open account settings',
      testId: 'account-open-tab',
      onClick: () => openAccountTab(this.ctx)
    });
  }

  protected async render(): Promise<Node> {
    const [user, info] = await Promise.all([
      this.ctx.api.getCurrentUser(),
      this.ctx.api.getServerInfo()
    ]);
    const open = (label: string, key: AccountBlockKey): HTMLButtonElement =>
      button(label, `account-open-${key}`, () => openAccountTab(this.ctx, key));
    return h(
      'div',
      { className: `${CSS}-section`, testId: 'account-section' },
      userView(user),
      serverView(info),
      h(
        'div',
        { className: `${CSS}-sectionButtons` },
        open('Profile & settings', 'profile'),
        open('Sessions', 'sessions'),
        open('API keys', 'api-keys'),
        open('Activity', 'activity')
      )
    );
  }
}
