/**
 * Code cells into notebooks: what "Open in notebook" does for queries, charts
 * and dashboards. The current notebook takes the cell below its active one;
 * with none open, a new notebook (default kernel) is created first.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import {
  NotebookActions,
  type INotebookTracker,
  type NotebookPanel
} from '@jupyterlab/notebook';

import type { INotebookCells } from '../context';

export class NotebookCells implements INotebookCells {
  constructor(
    private readonly _app: JupyterFrontEnd,
    private readonly _tracker: INotebookTracker | null
  ) {}

  async insert(code: string, options: { run?: boolean } = {}): Promise<void> {
    const panel = await this._notebook();
    await panel.context.ready;
    const notebook = panel.content;
    const active = notebook.activeCell;
    const reuse =
      active !== null &&
      active.model.type === 'code' &&
      active.model.sharedModel.getSource().trim() === '';
    if (!reuse) {
      NotebookActions.insertBelow(notebook);
    }
    const cell = notebook.activeCell;
    if (cell === null) {
      throw new Error('The notebook has no cell to write the code into.');
    }
    if (cell.model.type !== 'code') {
      NotebookActions.changeCellType(notebook, 'code');
    }
    notebook.activeCell!.model.sharedModel.setSource(code);
    this._app.shell.activateById(panel.id);
    if (options.run) {
      await panel.sessionContext.ready;
      await NotebookActions.run(notebook, panel.sessionContext);
    }
  }

  /** The notebook the user is working in, else a new one. */
  private async _notebook(): Promise<NotebookPanel> {
    const current = this._tracker?.currentWidget ?? null;
    if (current !== null && !current.isDisposed) {
      return current;
    }
    const model = (await this._app.commands.execute('docmanager:new-untitled', {
      path: '',
      type: 'notebook'
    })) as { path: string };
    const opened = (await this._app.commands.execute('docmanager:open', {
      path: model.path,
      factory: 'Notebook',
      kernel: { name: 'python3' }
    })) as NotebookPanel;
    return opened;
  }
}
