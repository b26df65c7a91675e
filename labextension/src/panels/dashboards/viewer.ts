/**
 * A published dashboard in a JupyterLab main-area tab: the viewer page
 * (`{baseUrl}analytics/dashboards/<id>`, served by the extension's Voila
 * process through its proxy) in an iframe, with Reload and "Open in a new
 * browser tab" in the tab's toolbar.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import {
  IFrame,
  launchIcon,
  refreshIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';

import { analyticsIcon } from '../../icons';
import { viewerUrl, viewerWidgetId } from './model';

/**
 * What the viewer's iframe may do. Voila's page runs its own scripts
 * (`allow-scripts`) and talks to its kernel over a websocket and fetches
 * under this server with the viewer's session cookie, which needs the page's
 * real origin (`allow-same-origin`; without it the frame's origin is opaque,
 * its requests carry `Origin: null` and the kernel socket is refused).
 * Together these two let a same-origin page lift its own sandbox, so they are
 * only safe for pages this server serves itself: the viewer proxy sends a
 * strict CSP (no foreign scripts, `frame-ancestors 'self'`) and dashboard
 * text is escaped. Downloads (a table's CSV) and links opening a new window
 * stay possible; top navigation, forms and modals stay blocked.
 */
export const VIEWER_SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-same-origin',
  'allow-downloads',
  'allow-popups'
];

/** Open `url` in a new browser tab that cannot reach back into the Lab page. */
export function openInBrowserTab(url: string): void {
  window.open(url, '_blank', 'noopener');
}

export interface IDashboardViewerOptions {
  dashboardId: string;
  title: string;
  /** The Lab server's base URL (`ServerConnection.ISettings.baseUrl`). */
  baseUrl: string;
}

/** The Lab tab of one published dashboard; its id is per dashboard. */
export class DashboardViewer extends MainAreaWidget<IFrame> {
  constructor(options: IDashboardViewerOptions) {
    const frame = new IFrame({
      sandbox: VIEWER_SANDBOX,
      referrerPolicy: 'same-origin'
    });
    super({ content: frame });
    this.dashboardId = options.dashboardId;
    this.url = viewerUrl(options.baseUrl, options.dashboardId);
    this.id = viewerWidgetId(options.dashboardId);
    this.addClass('jp-AnalyticsDashboardViewer');
    this.title.icon = analyticsIcon;
    this.title.closable = true;
    this.setTitle(options.title);
    frame.addClass('jp-AnalyticsDashboardViewer-frame');
    const iframe = frame.node.querySelector('iframe');
    if (iframe) {
      iframe.dataset.testid = 'dashboard-viewer-frame';
      iframe.title = `Dashboard ${options.title}`;
    }
    frame.url = this.url;

    const reload = new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Reload the dashboard (a fresh viewer session)',
      onClick: () => this.reload()
    });
    reload.node.dataset.testid = 'dashboard-viewer-reload';
    const external = new ToolbarButton({
      icon: launchIcon,
      label: 'Open in new browser tab',
      tooltip: 'Open this dashboard in a new browser tab',
      onClick: () => openInBrowserTab(this.url)
    });
    external.node.dataset.testid = 'dashboard-viewer-open-external';
    this.toolbar.addItem('reload', reload);
    this.toolbar.addItem('open-external', external);
  }

  /** The dashboard shown. */
  readonly dashboardId: string;
  /** The viewer page's URL on this Lab's server. */
  readonly url: string;

  /** Follow a rename. */
  setTitle(title: string): void {
    this.title.label = title;
    this.title.caption = `Dashboard: ${title}`;
  }

  /** Load the viewer page again (a new kernel session for the viewer). */
  reload(): void {
    // Setting `src` navigates again even when the value is unchanged.
    this.content.url = this.url;
  }
}
