/**
 * What the Queries section lends the actions on its rows (saved queries,
 * templates, history runs), so those can live in modules of their own without
 * importing the section: its notice line, its form slot, the saved queries it
 * has seen, the star state, and the rows on screen. Also `RowActions`, the
 * base of both kinds of row action, with what they share: progress shown on
 * the row, the confirmation before a delete, the share dialog, and what
 * follows a create.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import type { IDatasourceChoice, ISavedQuery } from '../../api/queries';
import { errorMessage } from '../../api';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { openShareDialog } from '../../ui/share-dialog';
import type { FavoriteState } from './favorites';
import type { QueriesTab } from './model';

export interface IQueriesHost {
  readonly ctx: IAnalyticsContext;
  /** Saved queries of any loaded tab by id (what commands act on). */
  readonly known: Map<string, ISavedQuery>;
  /** Star state, as the server's favorites list says. */
  readonly favorites: FavoriteState;
  /** Expand the section in its accordion (where the forms open). */
  reveal(): void;
  notice(text: string, error?: boolean): void;
  /**
   * Expand the section and show the form `build` makes in its form slot
   * (replacing any open one); `close` empties the slot, for the form's
   * Cancel and success.
   */
  openForm(build: (close: () => void) => { node: HTMLElement }): void;
  selectTab(tab: QueriesTab, reload: boolean): void;
  /** The row on screen of a saved query or a template, if shown. */
  rowOf(kind: 'query' | 'template', id: string): HTMLElement | null;
  /** The datasources for a form: those of the last load, else fetched now. */
  withDatasources(): Promise<IDatasourceChoice[]>;
  /** Tell everyone (the section included) that queries changed. */
  changed(id?: string): void;
}

/** The base of the saved-query and the template actions: the steps both take. */
export abstract class RowActions {
  constructor(protected readonly host: IQueriesHost) {}

  /**
   * Run a row action with its progress on the row (busy, a status line) and
   * its outcome in the section's notice.
   */
  protected async runOnRow(
    row: HTMLElement | null,
    pending: string,
    work: () => Promise<string>
  ): Promise<void> {
    const status =
      row?.querySelector<HTMLElement>('[data-testid="queries-row-status"]') ??
      null;
    row?.classList.add('jp-mod-busy');
    row?.setAttribute('aria-busy', 'true');
    if (status) {
      status.replaceChildren(
        h('span', {
          className: 'jp-Analytics-spinner',
          attrs: { 'aria-hidden': 'true' }
        }),
        h('span', { text: pending })
      );
    }
    try {
      const done = await work();
      this.host.notice(done);
    } catch (error) {
      this.host.notice(errorMessage(error), true);
    } finally {
      row?.classList.remove('jp-mod-busy');
      row?.setAttribute('aria-busy', 'false');
      status?.replaceChildren();
    }
  }

  /** The share dialog for a saved query or a template (both: view/edit/manage, links allowed). */
  protected async shareObject(
    objectType: 'query' | 'query_template',
    object: { id: string; name: string }
  ): Promise<void> {
    await openShareDialog(this.host.ctx, {
      area: 'query',
      objectId: object.id,
      objectType,
      objectName: object.name,
      levels: ['view', 'edit', 'manage'],
      allowLinks: true
    });
  }

  /** Ask before deleting (Cancel, or a warning button labelled `accept`); true to go on. */
  protected async confirmDelete(
    title: string,
    body: string,
    accept = 'Delete'
  ): Promise<boolean> {
    const answer = await showDialog({
      title,
      body,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: accept })]
    });
    return answer.button.accept;
  }

  /**
   * After a new saved query or template: say so, switch to the tab that lists
   * it (without a load of its own: the change notice reloads), and tell
   * everyone queries changed.
   */
  protected showCreated(tab: QueriesTab, id: string, message: string): void {
    this.host.notice(message);
    this.host.selectTab(tab, false);
    this.host.changed(id);
  }
}
