/**
 * JupyterLab plugins of analytics_ext. Plugins only: widgets live in
 * `panels/`, REST calls in `api.ts`, ids and interfaces in `tokens.ts`.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { AnalyticsAPI } from './api';
import { analyticsIcon } from './icons';
import { AnalyticsSidebar } from './panels/sidebar';
import { CommandIDs, PLUGIN_NAMESPACE } from './tokens';

/** The Analytics sidebar in the left area and the command that opens it. */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_NAMESPACE}:sidebar-plugin`,
  description:
    'The Analytics sidebar: the logged-in analytics user and the server versions.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const api = new AnalyticsAPI(app.serviceManager.serverSettings);
    const sidebar = new AnalyticsSidebar(api);
    app.shell.add(sidebar, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open Analytics Sidebar',
      caption: 'Show the Analytics sidebar',
      icon: analyticsIcon,
      execute: () => {
        app.shell.activateById(sidebar.id);
      }
    });
    if (palette) {
      palette.addItem({
        command: CommandIDs.openSidebar,
        category: 'Analytics'
      });
    }
  }
};

const plugins: JupyterFrontEndPlugin<void>[] = [sidebarPlugin];

export default plugins;
