/**
 * "Add to dashboard…" from a chart or saved-query row: a dialog choosing one
 * of the dashboards the user may edit (or a new one, named in the dialog)
 * and the tile's title. Confirming saves at once and keeps the dialog open
 * with the server's message if the save is refused; a 409 (someone saved the
 * dashboard since it was loaded) reloads that dashboard and says so, so the
 * next press adds the tile to what is there now instead of overwriting it.
 * Afterwards the other sections reload and a notice offers Publish / Open.
 */
import { Notification } from '@jupyterlab/apputils';

import { AnalyticsAPIError, errorMessage } from '../../api';
import type { IDashboard } from '../../api/dashboards';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import type { DashboardActions } from './actions';
import {
  appendTilePatch,
  bottomOf,
  checkRoom,
  checkTileTitle,
  editableDashboards,
  type ITileSource,
  MAX_TILE_TITLE,
  newDashboardBody
} from './add-tile-model';
import { FormBody, runSubmitDialog } from './dialogs';
import { checkTitle, tileCountText } from './model';

const CSS = 'jp-AnalyticsDashboards';

/** The value of the `<select>` option creating a dashboard. */
export const NEW_DASHBOARD = '';

/** What the dialog asks for: where the tile goes and its title. */
export interface IAddTileValue {
  /** A dashboard's id, or `NEW_DASHBOARD`. */
  dashboardId: string;
  /** The new dashboard's name (when `dashboardId` is `NEW_DASHBOARD`). */
  newTitle: string;
  tileTitle: string;
}

/** The dialog's form: dashboard choice (or a new one's name), tile title, where it goes. */
export class AddTileBody extends FormBody {
  constructor(source: ITileSource, dashboards: IDashboard[]) {
    const select = h('select', {
      className: 'jp-mod-styled',
      testId: 'add-tile-dashboard',
      attrs: { 'aria-label': 'Dashboard' }
    });
    const newTitle = h('input', {
      className: `${CSS}-nameInput jp-mod-styled`,
      testId: 'add-tile-new-name',
      attrs: {
        type: 'text',
        maxlength: '200',
        'aria-label': 'New dashboard name'
      }
    });
    const tileTitle = h('input', {
      className: `${CSS}-nameInput jp-mod-styled`,
      testId: 'add-tile-title',
      attrs: {
        type: 'text',
        maxlength: String(MAX_TILE_TITLE),
        'aria-label': 'Tile title'
      }
    });
    tileTitle.value = source.name;
    const newField = h(
      'label',
      { className: `${CSS}-field` },
      h('span', { text: 'New dashboard name' }),
      newTitle
    );
    const hint = h('p', {
      className: `${CSS}-hint`,
      testId: 'add-tile-placement',
      attrs: { 'aria-live': 'polite' }
    });
    super(
      h(
        'p',
        {},
        document.createTextNode(
          source.kind === 'chart' ? 'Put the chart ' : 'Put the query '
        ),
        h('strong', { text: source.name, testId: 'add-tile-source' }),
        document.createTextNode(' on a dashboard as a new tile.')
      ),
      h(
        'label',
        { className: `${CSS}-field` },
        h('span', { text: 'Dashboard' }),
        select
      ),
      newField,
      h(
        'label',
        { className: `${CSS}-field` },
        h('span', { text: 'Tile title' }),
        tileTitle
      ),
      hint
    );
    this.addClass(`${CSS}-addTile`);
    this.source = source;
    this._select = select;
    this._newTitle = newTitle;
    this._newField = newField;
    this._tileTitle = tileTitle;
    this._hint = hint;
    for (const dashboard of dashboards) {
      this._boards.set(dashboard.id, dashboard);
      select.append(
        h('option', { text: dashboard.title, attrs: { value: dashboard.id } })
      );
    }
    select.append(
      h('option', { text: 'New dashboard…', attrs: { value: NEW_DASHBOARD } })
    );
    select.value = dashboards.length > 0 ? dashboards[0].id : NEW_DASHBOARD;
    select.addEventListener('change', () => this._update());
    this._update();
  }

  getValue(): IAddTileValue {
    return {
      dashboardId: this._select.value,
      newTitle: this._newTitle.value,
      tileTitle: this._tileTitle.value
    };
  }

  /** The dashboard as last loaded. */
  dashboard(id: string): IDashboard | undefined {
    return this._boards.get(id);
  }

  /** Use a freshly loaded copy of a dashboard (after a 409) from now on. */
  replaceDashboard(dashboard: IDashboard): void {
    this._boards.set(dashboard.id, dashboard);
    for (const option of this._select.options) {
      if (option.value === dashboard.id) {
        option.textContent = dashboard.title;
      }
    }
    this._update();
  }

  /** Show the new dashboard's name field only when it is chosen; say where the tile goes. */
  private _update(): void {
    const board = this._boards.get(this._select.value);
    this._newField.hidden = board !== undefined;
    if (board === undefined) {
      this._hint.textContent =
        'A new dashboard holding just this tile (you own it).';
      return;
    }
    const count = tileCountText(board.tiles.length);
    this._hint.textContent =
      board.tiles.length === 0
        ? `${count}: the tile goes at the top.`
        : `${count} (version ${board.version}): the tile goes below them, at row ${
            bottomOf(board.layout) + 1
          }.`;
  }

  /** The chart or query the tile will show. */
  readonly source: ITileSource;
  private readonly _select: HTMLSelectElement;
  private readonly _newTitle: HTMLInputElement;
  private readonly _newField: HTMLElement;
  private readonly _tileTitle: HTMLInputElement;
  private readonly _hint: HTMLElement;
  private readonly _boards = new Map<string, IDashboard>();
}

/** Why the form cannot be sent as it is, or null. */
export function checkAddTile(
  body: AddTileBody,
  value: IAddTileValue
): string | null {
  const titleProblem = checkTileTitle(value.tileTitle);
  if (titleProblem !== null) {
    return titleProblem;
  }
  const board = body.dashboard(value.dashboardId);
  if (board === undefined) {
    return checkTitle(value.newTitle);
  }
  return checkRoom(board, body.source.kind);
}

/** What saving does; a seam so Jest can drive the dialog's logic without a server. */
export interface IAddTileServer {
  create(body: ReturnType<typeof newDashboardBody>): Promise<IDashboard>;
  update(
    id: string,
    patch: ReturnType<typeof appendTilePatch>
  ): Promise<IDashboard>;
  get(id: string): Promise<IDashboard>;
}

/**
 * Save the form's choice: create the dashboard with the tile, or PATCH the
 * chosen one on the version the dialog shows. A 409 reloads that dashboard
 * into the form and throws a message saying so (the dialog stays open).
 */
export async function submitAddTile(
  server: IAddTileServer,
  body: AddTileBody,
  value: IAddTileValue
): Promise<IDashboard> {
  const source = body.source;
  const board = body.dashboard(value.dashboardId);
  if (board === undefined) {
    return server.create(
      newDashboardBody(value.newTitle, source, value.tileTitle)
    );
  }
  try {
    return await server.update(
      board.id,
      appendTilePatch(board, source, value.tileTitle)
    );
  } catch (error) {
    if (!(error instanceof AnalyticsAPIError) || error.status !== 409) {
      throw error;
    }
    let fresh: IDashboard;
    try {
      fresh = await server.get(board.id);
    } catch (reload) {
      throw new Error(
        `${errorMessage(error)}\nReloading “${board.title}” failed too: ${errorMessage(reload)}`
      );
    }
    body.replaceDashboard(fresh);
    throw new Error(
      `Someone else saved “${fresh.title}” since this dialog loaded it; the server said: ` +
        `${errorMessage(error)}\n` +
        `The dialog has reloaded it (now version ${fresh.version}, ` +
        `${tileCountText(fresh.tiles.length).toLowerCase()}): press Add to put the tile on that version.`
    );
  }
}

/**
 * Run the whole flow for `source`: load the dashboards the user may edit,
 * ask, save, tell the other sections, and offer Publish / Open. Resolves to
 * the saved dashboard, or null (cancelled, or the list could not load).
 */
export async function addToDashboard(
  ctx: IAnalyticsContext,
  actions: DashboardActions,
  source: ITileSource
): Promise<IDashboard | null> {
  let dashboards: IDashboard[];
  try {
    dashboards = editableDashboards((await ctx.api.dashboards.list()).items);
  } catch (error) {
    Notification.error(
      `Could not load the dashboards: ${errorMessage(error)}`,
      {
        autoClose: 8000
      }
    );
    return null;
  }
  const api = ctx.api.dashboards;
  const server: IAddTileServer = {
    create: created => api.create(created),
    update: (id, patch) => api.update(id, patch),
    get: id => api.getDashboard(id)
  };
  const body = new AddTileBody(source, dashboards);
  let saved: IDashboard | null = null;
  await runSubmitDialog<IAddTileValue>({
    title: 'Add to dashboard',
    body,
    accept: 'Add',
    focus:
      dashboards.length > 0 ? 'select' : '[data-testid="add-tile-new-name"]',
    check: value => checkAddTile(body, value),
    submit: async value => {
      saved = await submitAddTile(server, body, value);
    }
  });
  if (saved === null) {
    return null;
  }
  const result: IDashboard = saved;
  ctx.notifyChanged({ area: 'dashboards', id: result.id });
  announce(actions, source, result);
  return result;
}

/** The success notice: what was added where, with Publish and (when published) Open. */
function announce(
  actions: DashboardActions,
  source: ITileSource,
  board: IDashboard
): void {
  const published = board.published_version !== null;
  const message =
    `Added “${source.name}” to “${board.title}” (version ${board.version}). ` +
    (published
      ? `Viewers still see version ${board.published_version} until you publish again.`
      : 'Publish it to show it to viewers.');
  const buttons: Notification.IAction[] = [
    {
      label: published ? 'Publish again' : 'Publish',
      caption: 'Publish this version for viewers',
      displayType: 'accent',
      callback: () => void actions.publish(board)
    }
  ];
  if (published) {
    buttons.push({
      label: 'Open',
      caption: 'Open the published view in a JupyterLab tab',
      callback: () => void actions.openInLab(board)
    });
  }
  Notification.success(message, { autoClose: 10000, actions: buttons });
}
