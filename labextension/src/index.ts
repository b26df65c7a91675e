/**
 * JupyterLab plugins of analytics_ext. Plugins only: sections live in
 * `panels/`, REST calls in `api/`, shared widgets in `ui/`, ids and
 * interfaces in `tokens.ts` and `context.ts`.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import { AnalyticsAPI } from './api';
import type { IAnalyticsChange, IAnalyticsContext } from './context';
import { analyticsIcon } from './icons';
import { activateAccount } from './panels/account';
import { activateCharts } from './panels/charts';
import { activateDashboards } from './panels/dashboards';
import { activateDatasources } from './panels/datasources';
import { activateQueries } from './panels/queries';
import { AnalyticsSidebar } from './panels/sidebar';
import { CommandIDs, PLUGIN_NAMESPACE } from './tokens';
import { NotebookCells } from './ui/notebook';

/** The context panels share: one REST client, one change bus, one way to open tabs. */
class AnalyticsContext implements IAnalyticsContext {
  constructor(
    readonly app: JupyterFrontEnd,
    readonly palette: ICommandPalette | null,
    tracker: INotebookTracker | null
  ) {
    this.api = new AnalyticsAPI(app.serviceManager.serverSettings);
    this.notebooks = new NotebookCells(app, tracker);
  }

  readonly api: AnalyticsAPI;
  readonly notebooks: NotebookCells;

  get changed(): Signal<IAnalyticsContext, IAnalyticsChange> {
    return this._changed;
  }

  notifyChanged(change: IAnalyticsChange): void {
    this._changed.emit(change);
  }

  openInMain(widget: Widget): void {
    const shell = this.app.shell;
    for (const open of shell.widgets('main')) {
      if (open.id === widget.id) {
        if (open !== widget) {
          widget.dispose();
        }
        shell.activateById(open.id);
        return;
      }
    }
    shell.add(widget, 'main');
    shell.activateById(widget.id);
  }

  private readonly _changed = new Signal<IAnalyticsContext, IAnalyticsChange>(
    this
  );
}

/** The Analytics sidebar in the left area, its sections and their commands. */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_NAMESPACE}:sidebar-plugin`,
  description:
    'The Analytics sidebar: datasources, queries, charts, dashboards and the account.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    tracker: INotebookTracker | null
  ): void => {
    const ctx = new AnalyticsContext(app, palette, tracker);
    const sidebar = new AnalyticsSidebar([
      activateDatasources(ctx),
      activateQueries(ctx),
      activateCharts(ctx),
      activateDashboards(ctx),
      activateAccount(ctx)
    ]);
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
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Reload Analytics Sidebar',
      caption: 'Fetch every section of the Analytics sidebar again',
      execute: () => sidebar.refresh()
    });
    palette?.addItem({
      command: CommandIDs.openSidebar,
      category: 'Analytics'
    });
    palette?.addItem({ command: CommandIDs.refresh, category: 'Analytics' });
  }
};

const plugins: JupyterFrontEndPlugin<void>[] = [sidebarPlugin];

export default plugins;
