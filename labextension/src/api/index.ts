/**
 * The typed REST client of the frontend: one `AnalyticsAPI` whose members are
 * the clients of each area. Panels receive it; nothing else calls the server.
 */
import { ServerConnection } from '@jupyterlab/services';

import type { IAnalyticsUser, IServerInfo } from '../tokens';
import { AccountAPI } from './account';
import { AreaAPI } from './base';
import { ChartsAPI } from './charts';
import { DashboardsAPI } from './dashboards';
import { DatasourcesAPI } from './datasources';
import { QueriesAPI } from './queries';
import { SharingAPI } from './sharing';

export { AnalyticsAPIError, errorMessage } from './request';
export type { IDownload } from './request';

export class AnalyticsAPI extends AreaAPI {
  readonly account: AccountAPI;
  readonly charts: ChartsAPI;
  readonly dashboards: DashboardsAPI;
  readonly datasources: DatasourcesAPI;
  readonly queries: QueriesAPI;
  readonly sharing: SharingAPI;

  constructor(
    settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {
    super(settings);
    this.account = new AccountAPI(settings);
    this.charts = new ChartsAPI(settings);
    this.dashboards = new DashboardsAPI(settings);
    this.datasources = new DatasourcesAPI(settings);
    this.queries = new QueriesAPI(settings);
    this.sharing = new SharingAPI(settings);
  }

  /** The server connection settings the client uses. */
  get serverSettings(): ServerConnection.ISettings {
    return this.settings;
  }

  /** `GET api/user`: the logged-in analytics user. */
  getCurrentUser(): Promise<IAnalyticsUser> {
    return this.get<IAnalyticsUser>('api/user');
  }

  /** `GET api/analytics/info`: versions and mode of the server. */
  getServerInfo(): Promise<IServerInfo> {
    return this.get<IServerInfo>('api/analytics/info');
  }
}
