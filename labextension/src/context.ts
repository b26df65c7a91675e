/**
 * What every panel receives from the plugin: the app, the REST client, and
 * the few shared services (main-area tabs, notebook cells, the change bus).
 * Panels depend on this interface, never on `index.ts`.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { Toolbar } from '@jupyterlab/ui-components';
import type { ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import type { AnalyticsAPI } from './api';

/** An area whose data changed; panels showing that area reload. */
export type AnalyticsArea =
  'account' | 'charts' | 'dashboards' | 'datasources' | 'queries';

export interface IAnalyticsChange {
  area: AnalyticsArea;
  /** The object that changed, if one did. */
  id?: string;
}

/** Puts code into a notebook: the active one, or a new one when none is open. */
export interface INotebookCells {
  /**
   * Insert a code cell holding `code` below the active cell of the current
   * notebook (a new notebook if none is open), select it and, with `run`,
   * execute it. Resolves once the cell is in (and, with `run`, has been sent
   * to the kernel).
   */
  insert(code: string, options?: { run?: boolean }): Promise<void>;
}

export interface IAnalyticsContext {
  readonly app: JupyterFrontEnd;
  readonly api: AnalyticsAPI;
  readonly palette: ICommandPalette | null;
  readonly notebooks: INotebookCells;
  /** Fired by a panel after it changed server data, so the others reload. */
  readonly changed: ISignal<IAnalyticsContext, IAnalyticsChange>;
  /** Tell the other panels that `change.area` changed. */
  notifyChanged(change: IAnalyticsChange): void;
  /**
   * Show `widget` in the main area (as a tab), or activate the open widget
   * whose id is `widget.id` instead.
   */
  openInMain(widget: Widget): void;
}

/** One section of the Analytics sidebar (an accordion pane with a toolbar). */
export interface IAnalyticsSection extends Widget {
  /** Buttons shown in the section's title bar. */
  readonly toolbar?: Toolbar;
  /** Fetch again and re-render; the sidebar's Refresh calls it. */
  refresh(): Promise<void>;
}
