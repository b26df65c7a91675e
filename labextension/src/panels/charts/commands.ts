/**
 * The Charts commands: each acts on the chart named by its `chartId`
 * argument, else on the row last right-clicked. Row buttons, the row context
 * menu and the palette all run these, so they behave the same everywhere.
 */
import { Notification } from '@jupyterlab/apputils';
import { downloadIcon, refreshIcon } from '@jupyterlab/ui-components';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Menu } from '@lumino/widgets';

import { errorMessage } from '../../api';
import type { IChart } from '../../api/charts';
import type { IAnalyticsContext } from '../../context';
import { ADD_TO_DASHBOARD_COMMAND } from '../dashboards/add-tile-model';
import { openShareDialog } from '../../ui/share-dialog';
import {
  applyTemplateDialog,
  deleteChartDialog,
  renameChartDialog
} from './dialogs';
import {
  EXPORT_FORMATS,
  exportBody,
  isExportFormat,
  openChartCode
} from './model';
import type { ChartsSection } from './section';
import type { IRowActions } from './views';

export namespace ChartCommandIDs {
  export const refresh = 'analytics-ext:refresh-charts';
  export const applyTemplate = 'analytics-ext:apply-chart-template';
  export const openInNotebook = 'analytics-ext:open-chart-in-notebook';
  export const exportChart = 'analytics-ext:export-chart';
  export const share = 'analytics-ext:share-chart';
  export const rename = 'analytics-ext:rename-chart';
  export const remove = 'analytics-ext:delete-chart';
}

const ROW_SELECTOR = '.jp-AnalyticsCharts-row';
const CATEGORY = 'Analytics';

/** Save a blob as a file the browser downloads, named `filename`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own copy once started; give slow browsers a moment.
  window.setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** Register the commands and menus; returns the row actions the section's buttons call. */
export function registerChartCommands(
  ctx: IAnalyticsContext
): (section: ChartsSection) => IRowActions {
  const { app, api } = ctx;
  let section: ChartsSection | null = null;

  const chartOf = (args: ReadonlyPartialJSONObject): IChart | null => {
    const id = typeof args.chartId === 'string' ? args.chartId : null;
    return id !== null
      ? (section?.chart(id) ?? null)
      : (section?.contextChart ?? null);
  };

  const changed = (id?: string): void => {
    ctx.notifyChanged({ area: 'charts', id });
  };

  const fail = (what: string, error: unknown): void => {
    Notification.error(`${what}: ${errorMessage(error)}`, { autoClose: 8000 });
  };

  app.commands.addCommand(ChartCommandIDs.refresh, {
    label: 'Refresh Charts',
    caption: 'Reload the saved charts and their thumbnails',
    icon: refreshIcon,
    execute: () => section?.reload(true)
  });

  app.commands.addCommand(ChartCommandIDs.applyTemplate, {
    label: args =>
      args.chartId || args.fromRow
        ? 'Apply Chart Template to This Query…'
        : 'Apply Chart Template…',
    caption: 'Make a new chart from a chart template and a saved query',
    execute: async args => {
      const base = args.fromRow ? chartOf(args) : null;
      const created = await applyTemplateDialog(
        {
          templates: async () =>
            (await api.charts.templates({ limit: 200 })).items,
          findQueries: text => api.charts.findQueries(text)
        },
        (templateId, body) => api.charts.applyTemplate(templateId, body),
        { queryId: base?.query_id }
      );
      if (created !== null) {
        changed(created.id);
        Notification.success(`Chart “${created.name}” created.`, {
          autoClose: 4000
        });
      }
    }
  });

  app.commands.addCommand(ChartCommandIDs.openInNotebook, {
    label: 'Open Chart in Notebook',
    caption: 'Insert and run a cell that shows the chart (widgets.open_chart)',
    isEnabled: args => chartOf(args) !== null,
    execute: async args => {
      const chart = chartOf(args);
      if (chart === null) {
        return;
      }
      try {
        await ctx.notebooks.insert(openChartCode(chart.id), { run: true });
      } catch (error) {
        fail(`Could not open “${chart.name}” in a notebook`, error);
      }
    }
  });

  app.commands.addCommand(ChartCommandIDs.exportChart, {
    label: args => {
      const entry = EXPORT_FORMATS.find(e => e.format === args.format);
      return entry ? entry.label : 'Export Chart';
    },
    caption: args =>
      EXPORT_FORMATS.find(e => e.format === args.format)?.caption ?? '',
    isEnabled: args => chartOf(args) !== null && isExportFormat(args.format),
    execute: async args => {
      const chart = chartOf(args);
      if (chart === null || !isExportFormat(args.format)) {
        return;
      }
      const format = args.format;
      const note = Notification.emit(
        `Exporting “${chart.name}” as ${format.toUpperCase()}…`,
        'in-progress',
        {
          autoClose: false
        }
      );
      try {
        const file = await api.charts.exportChart(
          exportBody(chart.id, format),
          `chart.${format}`
        );
        saveBlob(file.blob, file.filename);
        Notification.update({
          id: note,
          message: `Exported “${chart.name}” as ${file.filename}.`,
          type: 'success',
          autoClose: 4000
        });
      } catch (error) {
        Notification.update({
          id: note,
          message: `Could not export “${chart.name}”: ${errorMessage(error)}`,
          type: 'error',
          autoClose: 10000
        });
      }
    }
  });

  app.commands.addCommand(ChartCommandIDs.share, {
    label: 'Share Chart…',
    isEnabled: args => chartOf(args)?.permission === 'manage',
    execute: async args => {
      const chart = chartOf(args);
      if (chart === null) {
        return;
      }
      await openShareDialog(ctx, {
        area: 'chart',
        objectId: chart.id,
        objectName: chart.name,
        levels: ['view', 'edit', 'manage'],
        allowLinks: true
      });
    }
  });

  app.commands.addCommand(ChartCommandIDs.rename, {
    label: 'Rename Chart…',
    isEnabled: args => {
      const level = chartOf(args)?.permission;
      return level === 'edit' || level === 'manage';
    },
    execute: async args => {
      const chart = chartOf(args);
      if (chart === null) {
        return;
      }
      const renamed = await renameChartDialog(chart, async name => {
        await api.charts.update(chart.id, { name });
      });
      if (renamed) {
        changed(chart.id);
      }
    }
  });

  app.commands.addCommand(ChartCommandIDs.remove, {
    label: 'Delete Chart…',
    isEnabled: args => chartOf(args)?.permission === 'manage',
    execute: async args => {
      const chart = chartOf(args);
      if (chart === null) {
        return;
      }
      const deleted = await deleteChartDialog(chart, () =>
        api.charts.remove(chart.id)
      );
      if (deleted) {
        changed(chart.id);
      }
    }
  });

  ctx.palette?.addItem({
    command: ChartCommandIDs.refresh,
    category: CATEGORY
  });
  ctx.palette?.addItem({
    command: ChartCommandIDs.applyTemplate,
    category: CATEGORY
  });

  // The export submenu (also opened by a row's Export button).
  const exportMenu = (chartId?: string): Menu => {
    const menu = new Menu({ commands: app.commands });
    menu.title.label = 'Export Chart As';
    menu.title.icon = downloadIcon;
    menu.addClass('jp-AnalyticsCharts-exportMenu');
    for (const entry of EXPORT_FORMATS) {
      menu.addItem({
        command: ChartCommandIDs.exportChart,
        args: chartId
          ? { chartId, format: entry.format }
          : { format: entry.format }
      });
    }
    return menu;
  };

  app.contextMenu.addItem({
    command: ChartCommandIDs.openInNotebook,
    selector: ROW_SELECTOR,
    rank: 1
  });
  app.contextMenu.addItem({
    type: 'submenu',
    submenu: exportMenu(),
    selector: ROW_SELECTOR,
    rank: 2
  });
  app.contextMenu.addItem({
    command: ChartCommandIDs.share,
    selector: ROW_SELECTOR,
    rank: 3
  });
  app.contextMenu.addItem({
    command: ADD_TO_DASHBOARD_COMMAND,
    args: { kind: 'chart' },
    selector: ROW_SELECTOR,
    rank: 3.5
  });
  app.contextMenu.addItem({
    type: 'separator',
    selector: ROW_SELECTOR,
    rank: 4
  });
  app.contextMenu.addItem({
    command: ChartCommandIDs.rename,
    selector: ROW_SELECTOR,
    rank: 5
  });
  app.contextMenu.addItem({
    command: ChartCommandIDs.remove,
    selector: ROW_SELECTOR,
    rank: 6
  });
  app.contextMenu.addItem({
    type: 'separator',
    selector: ROW_SELECTOR,
    rank: 7
  });
  app.contextMenu.addItem({
    command: ChartCommandIDs.applyTemplate,
    args: { fromRow: true },
    selector: ROW_SELECTOR,
    rank: 8
  });
  app.contextMenu.addItem({
    command: ChartCommandIDs.refresh,
    selector: ROW_SELECTOR,
    rank: 9
  });

  return (owner: ChartsSection): IRowActions => {
    section = owner;
    const run = (command: string, chart: IChart): void => {
      void app.commands.execute(command, { chartId: chart.id });
    };
    return {
      open: chart => run(ChartCommandIDs.openInNotebook, chart),
      exportMenu: (chart, anchor) => {
        const menu = exportMenu(chart.id);
        const box = anchor.getBoundingClientRect();
        menu.aboutToClose.connect(() => {
          // Disposed after the triggered command has read its arguments.
          requestAnimationFrame(() => menu.dispose());
        });
        menu.open(box.left, box.bottom);
      },
      share: chart => run(ChartCommandIDs.share, chart),
      rename: chart => run(ChartCommandIDs.rename, chart),
      remove: chart => run(ChartCommandIDs.remove, chart),
      addToDashboard: chart => {
        void app.commands.execute(ADD_TO_DASHBOARD_COMMAND, {
          kind: 'chart',
          id: chart.id,
          name: chart.name
        });
      }
    };
  };
}
