/**
 * The Dashboards commands: palette items (Refresh Dashboards, Open
 * Dashboard…, New Dashboard), the row context menu, and Add to Dashboard…
 * (run from chart and saved-query rows). A command acts on the
 * dashboard named by its `id` argument, else on the row the context menu was
 * opened on.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../../api';
import type { DashboardExportFormat, IDashboard } from '../../api/dashboards';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { addToDashboard } from './add-tile';
import {
  ADD_TO_DASHBOARD_COMMAND,
  isTileKind,
  type ITileSource
} from './add-tile-model';
import { actionsFor, type IDashboardActions } from './model';
import { DashboardsSection, ROW_ID_ATTRIBUTE, ROW_SELECTOR } from './section';

const NS = 'analytics-ext';

/** Command ids of the Dashboards section. */
export namespace DashboardCommandIDs {
  export const refresh = `${NS}:refresh-dashboards`;
  export const pick = `${NS}:pick-dashboard`;
  export const create = `${NS}:new-dashboard`;
  export const open = `${NS}:open-dashboard`;
  export const openInBrowser = `${NS}:open-dashboard-in-browser`;
  export const publish = `${NS}:publish-dashboard`;
  export const unpublish = `${NS}:unpublish-dashboard`;
  export const share = `${NS}:share-dashboard`;
  export const exportHtml = `${NS}:export-dashboard-html`;
  export const exportPdf = `${NS}:export-dashboard-pdf`;
  export const openInNotebook = `${NS}:open-dashboard-in-notebook`;
  export const rename = `${NS}:rename-dashboard`;
  export const remove = `${NS}:delete-dashboard`;
  /** `{kind: 'chart' | 'query', id, name}`: put that object on a dashboard as a tile. */
  export const addToDashboard = ADD_TO_DASHBOARD_COMMAND;
}

/** The row attribute naming the object under a context menu, per tile kind. */
const SOURCE_ROW_ATTRIBUTE = {
  chart: 'data-chart-id',
  query: 'data-query-id'
} as const;

type Action = (dashboard: IDashboard) => unknown;

interface IRowCommand {
  id: string;
  label: string;
  allowed: keyof IDashboardActions;
  run: Action;
}

export function registerDashboardCommands(
  ctx: IAnalyticsContext,
  section: DashboardsSection
): void {
  const { commands, contextMenu } = ctx.app;
  const actions = section.actions;

  /** The dashboard a command is about: its `id` argument, else the right-clicked row. */
  const target = (args: { id?: unknown }): IDashboard | undefined => {
    if (typeof args.id === 'string') {
      return section.find(args.id);
    }
    const node = ctx.app.contextMenuHitTest(candidate =>
      candidate.hasAttribute(ROW_ID_ATTRIBUTE)
    );
    const id = node?.getAttribute(ROW_ID_ATTRIBUTE);
    return id ? section.find(id) : undefined;
  };

  const exportAs =
    (format: DashboardExportFormat): Action =>
    dashboard =>
      actions.exportAs(dashboard, format);
  const rowCommands: IRowCommand[] = [
    { id: DashboardCommandIDs.open, label: 'Open in JupyterLab Tab', allowed: 'open',
      run: dashboard => actions.openInLab(dashboard) },
    { id: DashboardCommandIDs.openInBrowser, label: 'Open in New Browser Tab', allowed: 'open',
      run: dashboard => actions.openInBrowser(dashboard) },
    { id: DashboardCommandIDs.publish, label: 'Publish…', allowed: 'publish',
      run: dashboard => actions.publish(dashboard) },
    { id: DashboardCommandIDs.unpublish, label: 'Unpublish', allowed: 'unpublish',
      run: dashboard => actions.unpublish(dashboard) },
    { id: DashboardCommandIDs.share, label: 'Share…', allowed: 'share',
      run: dashboard => actions.share(dashboard) },
    { id: DashboardCommandIDs.exportHtml, label: 'Export as HTML', allowed: 'export',
      run: exportAs('html') },
    { id: DashboardCommandIDs.exportPdf, label: 'Export as PDF', allowed: 'export',
      run: exportAs('pdf') },
    { id: DashboardCommandIDs.openInNotebook, label: 'Open in Notebook', allowed: 'export',
      run: dashboard => actions.openInNotebook(dashboard) },
    { id: DashboardCommandIDs.rename, label: 'Rename…', allowed: 'rename',
      run: dashboard => actions.rename(dashboard) },
    { id: DashboardCommandIDs.remove, label: 'Delete…', allowed: 'remove',
      run: dashboard => actions.remove(dashboard) }
  ]; // prettier-ignore

  rowCommands.forEach((command, index) => {
    commands.addCommand(command.id, {
      label: command.label,
      isEnabled: args => {
        const dashboard = target(args);
        return (
          dashboard !== undefined && actionsFor(dashboard)[command.allowed]
        );
      },
      execute: args => {
        const dashboard = target(args);
        return dashboard === undefined ? undefined : command.run(dashboard);
      }
    });
    contextMenu.addItem({
      command: command.id,
      selector: ROW_SELECTOR,
      rank: 10 + index
    });
  });

  commands.addCommand(DashboardCommandIDs.refresh, {
    label: 'Refresh Dashboards',
    caption: 'Load the list of dashboards again',
    execute: () => section.refresh()
  });
  commands.addCommand(DashboardCommandIDs.create, {
    label: 'New Dashboard…',
    caption: 'Create an empty dashboard',
    execute: () => section.create()
  });
  commands.addCommand(DashboardCommandIDs.pick, {
    label: 'Open Dashboard…',
    caption: 'Choose a published dashboard and open it in a JupyterLab tab',
    execute: async () => {
      const picked = await pickDashboard(section);
      if (picked !== null) {
        actions.openInLab(picked);
      }
    }
  });
  /**
   * What "Add to dashboard…" adds: `kind` and `id` from its arguments (the id
   * else from the chart or query row under the context menu) and `name`
   * (else read from the server, which also proves the object is visible).
   */
  const tileSource = (args: {
    kind?: unknown;
    id?: unknown;
  }): Pick<ITileSource, 'kind' | 'id'> | null => {
    if (!isTileKind(args.kind)) {
      return null;
    }
    const attribute = SOURCE_ROW_ATTRIBUTE[args.kind];
    const id =
      typeof args.id === 'string'
        ? args.id
        : ctx.app
            .contextMenuHitTest(node => node.hasAttribute(attribute))
            ?.getAttribute(attribute);
    return id ? { kind: args.kind, id } : null;
  };
  commands.addCommand(DashboardCommandIDs.addToDashboard, {
    label: 'Add to Dashboard…',
    caption:
      'Put this chart or query on a dashboard you may edit, as a new tile',
    isEnabled: args => tileSource(args) !== null,
    execute: async args => {
      const target = tileSource(args);
      if (target === null) {
        return null;
      }
      let name = typeof args.name === 'string' ? args.name : '';
      if (name === '') {
        try {
          name =
            target.kind === 'chart'
              ? (await ctx.api.charts.getChart(target.id)).name
              : (await ctx.api.queries.getQuery(target.id)).name;
        } catch (error) {
          await showDialog({
            title: 'Add to dashboard',
            body: `Could not read the ${target.kind}: ${errorMessage(error)}`,
            buttons: [Dialog.okButton({ label: 'Close' })]
          });
          return null;
        }
      }
      return addToDashboard(ctx, actions, { ...target, name });
    }
  });

  for (const command of [
    DashboardCommandIDs.refresh,
    DashboardCommandIDs.pick,
    DashboardCommandIDs.create
  ]) {
    ctx.palette?.addItem({ command, category: 'Analytics' });
  }
}

/** Ask which published dashboard to open; null when cancelled or none exist. */
async function pickDashboard(
  section: DashboardsSection
): Promise<IDashboard | null> {
  await section.refresh();
  const published = section.dashboards.filter(
    item => item.published_version !== null
  );
  if (published.length === 0) {
    await showDialog({
      title: 'Open dashboard',
      body: 'No published dashboard yet: publish one from the Dashboards section first.',
      buttons: [Dialog.okButton({ label: 'Close' })]
    });
    return null;
  }
  const select = h('select', {
    className: 'jp-mod-styled',
    testId: 'dashboards-pick-select',
    attrs: { 'aria-label': 'Dashboard' }
  });
  for (const item of published) {
    select.append(h('option', { text: item.title, attrs: { value: item.id } }));
  }
  const body = new Widget({
    node: h('label', { className: 'jp-AnalyticsDashboards-field' },
      h('span', { text: 'Dashboard' }), select)
  }); // prettier-ignore
  const result = await showDialog({
    title: 'Open dashboard',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Open' })],
    focusNodeSelector: 'select'
  });
  if (!result.button.accept) {
    return null;
  }
  return published.find(item => item.id === select.value) ?? null;
}
