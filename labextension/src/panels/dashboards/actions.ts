/**
 * What can be done to a dashboard from the Lab, in one place for the row
 * buttons, the context menu and the command palette: publish, open (Lab tab
 * or browser tab), share, export, open in a notebook, create, rename,
 * delete. Each one that changes server data tells the other panels.
 */
import { errorMessage } from '../../api';
import type { DashboardExportFormat, IDashboard } from '../../api/dashboards';
import type { IAnalyticsContext } from '../../context';
import { openShareDialog } from '../../ui/share-dialog';
import {
  deleteDashboardDialog,
  newDashboardDialog,
  publishDashboardDialog,
  publishedDialog,
  renameDashboardDialog
} from './dialogs';
import {
  exportFileName,
  notebookCode,
  viewerUrl,
  viewerWidgetId
} from './model';
import { DashboardViewer, openInBrowserTab } from './viewer';

/** The levels the server grants on a dashboard, weakest first. */
export const DASHBOARD_SHARE_LEVELS = ['view', 'edit', 'manage'];

/** Where an action reports progress and failure (the dashboard's row). */
export interface IActionFeedback {
  /** A running action's text (`Exporting PDF…`), or null when it ended. */
  pending(dashboardId: string, text: string | null): void;
  /** The server's message for a failed action, or null to clear it. */
  failed(dashboardId: string, message: string | null): void;
}

export class DashboardActions {
  constructor(
    private readonly _ctx: IAnalyticsContext,
    private readonly _feedback: IActionFeedback
  ) {}

  /** The viewer page on this Lab's server. */
  viewerUrl(dashboard: Pick<IDashboard, 'id'>): string {
    return viewerUrl(this._ctx.api.serverSettings.baseUrl, dashboard.id);
  }

  /** Open the published view in a Lab tab (or activate the open one). */
  openInLab(dashboard: Pick<IDashboard, 'id' | 'title'>): DashboardViewer {
    const shell = this._ctx.app.shell;
    const id = viewerWidgetId(dashboard.id);
    for (const open of shell.widgets('main')) {
      if (open.id === id && open instanceof DashboardViewer) {
        open.setTitle(dashboard.title);
        shell.activateById(id);
        return open;
      }
    }
    const viewer = new DashboardViewer({
      dashboardId: dashboard.id,
      title: dashboard.title,
      baseUrl: this._ctx.api.serverSettings.baseUrl
    });
    this._ctx.openInMain(viewer);
    return viewer;
  }

  openInBrowser(dashboard: Pick<IDashboard, 'id'>): void {
    openInBrowserTab(this.viewerUrl(dashboard));
  }

  /** Confirm, publish, then show the version and URL (and open it if asked). */
  async publish(dashboard: IDashboard): Promise<void> {
    this._feedback.failed(dashboard.id, null);
    const result = await publishDashboardDialog(dashboard, () =>
      this._ctx.api.dashboards.publish(dashboard.id)
    );
    if (result === null) {
      return;
    }
    this._ctx.notifyChanged({ area: 'dashboards', id: dashboard.id });
    const next = await publishedDialog(dashboard, result);
    if (next === 'open') {
      this.openInLab(dashboard).reload();
    } else if (next === 'browser') {
      this.openInBrowser(dashboard);
    }
  }

  /** Take it away from viewers (no confirm needed: publishing again restores it). */
  async unpublish(dashboard: IDashboard): Promise<void> {
    await this._run(dashboard, 'Unpublishing…', async () => {
      await this._ctx.api.dashboards.unpublish(dashboard.id);
      this._ctx.notifyChanged({ area: 'dashboards', id: dashboard.id });
    });
  }

  share(dashboard: IDashboard): Promise<void> {
    return openShareDialog(this._ctx, {
      area: 'dashboards',
      objectId: dashboard.id,
      objectName: dashboard.title,
      levels: DASHBOARD_SHARE_LEVELS,
      allowLinks: true
    });
  }

  /** Download a static export under the server's file name. */
  async exportAs(
    dashboard: IDashboard,
    format: DashboardExportFormat
  ): Promise<void> {
    await this._run(
      dashboard,
      `Exporting ${format.toUpperCase()}…`,
      async () => {
        const file = await this._ctx.api.dashboards.exportFile(
          dashboard.id,
          format
        );
        const name =
          file.filename === `dashboard.${format}`
            ? exportFileName(dashboard.title, format)
            : file.filename;
        saveBlob(file.blob, name);
      }
    );
  }

  /** A code cell drawing the dashboard, run in the current (or a new) notebook. */
  async openInNotebook(dashboard: IDashboard): Promise<void> {
    await this._run(dashboard, 'Opening in a notebook…', () =>
      this._ctx.notebooks.insert(notebookCode(dashboard.id), { run: true })
    );
  }

  /** Ask for a name and create an empty dashboard. */
  async create(): Promise<IDashboard | null> {
    const created = await newDashboardDialog(title =>
      this._ctx.api.dashboards.create({ title })
    );
    if (created !== null) {
      this._ctx.notifyChanged({ area: 'dashboards', id: created.id });
    }
    return created;
  }

  async rename(dashboard: IDashboard): Promise<void> {
    const renamed = await renameDashboardDialog(dashboard, async title => {
      await this._ctx.api.dashboards.update(dashboard.id, {
        title,
        base_version: dashboard.version
      });
    });
    if (renamed) {
      this._ctx.notifyChanged({ area: 'dashboards', id: dashboard.id });
    }
  }

  async remove(dashboard: IDashboard): Promise<void> {
    const removed = await deleteDashboardDialog(dashboard, () =>
      this._ctx.api.dashboards.remove(dashboard.id)
    );
    if (removed) {
      const open = [...this._ctx.app.shell.widgets('main')].find(
        widget => widget.id === viewerWidgetId(dashboard.id)
      );
      open?.dispose();
      this._ctx.notifyChanged({ area: 'dashboards', id: dashboard.id });
    }
  }

  /** Run `work` with the row showing `text`, and the server's message if it fails. */
  private async _run(
    dashboard: IDashboard,
    text: string,
    work: () => Promise<void>
  ): Promise<void> {
    this._feedback.failed(dashboard.id, null);
    this._feedback.pending(dashboard.id, text);
    try {
      await work();
    } catch (error) {
      this._feedback.failed(dashboard.id, errorMessage(error));
    } finally {
      this._feedback.pending(dashboard.id, null);
    }
  }
}

/** Hand a blob to the browser as a download named `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Give the browser time to start reading the blob before it goes.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
