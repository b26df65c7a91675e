/**
 * The Settings block: the form generated from `GET api/user/settings/schema`,
 * with the choice lists its properties name (`x-choices`) supplied from the
 * server, so a datasource is picked by name rather than typed as an id.
 */
import type { DatasourcesAPI } from '../../api/datasources';
import type { IAnalyticsContext } from '../../context';
import { AccountBlock } from './block';
import type { IChoice } from './settings-choices';
import { SettingsForm } from './settings-form';

/** Most datasources one `GET api/datasources` page may hold (the server's cap). */
const DATASOURCE_PAGE = 200;

/**
 * `x-choices: datasources`: every datasource the user can see, by name (the
 * dialect tells apart two of the same name), across all pages.
 */
export async function datasourceChoices(
  datasources: Pick<DatasourcesAPI, 'list'>
): Promise<IChoice[]> {
  const choices: IChoice[] = [];
  let cursor: string | null = null;
  do {
    const page = await datasources.list(cursor, DATASOURCE_PAGE);
    for (const item of page.items) {
      choices.push({ value: item.id, label: `${item.name} (${item.dialect})` });
    }
    cursor = page.next;
  } while (cursor);
  return choices;
}

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
    const form = await SettingsForm.create(schema, values, {
      idPrefix: 'analytics-account-settings',
      save: changes => account.updateSettings(changes),
      saved: () => this.changed(),
      choices: {
        datasources: () => datasourceChoices(this.ctx.api.datasources)
      }
    });
    return form.node;
  }
}
