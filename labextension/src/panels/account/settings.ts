/** The Settings block: the form generated from `GET api/user/settings/schema`. */
import type { IAnalyticsContext } from '../../context';
import { AccountBlock } from './block';
import { SettingsForm } from './settings-form';

export class SettingsBlock extends AccountBlock {
  constructor(ctx: IAnalyticsContext) {
    super(
      ctx,
      'settings',
      'Settings',
      'Preferences for queries, charts, dashboards and notifications. Only the fields you change are saved.'
    );
  }

  protected async render(): Promise<Node> {
    const account = this.ctx.api.account;
    const [schema, values] = await Promise.all([
      account.settingsSchema(),
      account.getSettings()
    ]);
    const form = new SettingsForm(schema, values, {
      idPrefix: 'analytics-account-settings',
      save: changes => account.updateSettings(changes),
      saved: () => this.changed()
    });
    return form.node;
  }
}
