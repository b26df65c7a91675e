/**
 * What can be done to a saved query from its row, its menus and the
 * commands: open it in a notebook, star it, share, export, save it as a
 * template, rename, delete; plus the New query form and opening a history
 * run's SQL. Each shows its progress on the row or in an inline form, and its
 * outcome (the server's message on failure) in the section's notice; the
 * forms stay open with the server's message when a submit is refused.
 */
import { AnalyticsAPIError, errorMessage } from '../../api';
import type {
  ExportFormat,
  IHistoryItem,
  ISavedQuery
} from '../../api/queries';
import { RowActions } from './action-host';
import { openQueryCode, openSqlCode } from './cells';
import {
  asksForParameters,
  exportFormat,
  exportRequest,
  exportSummary,
  fallbackFilename,
  saveDownload
} from './export';
import {
  exportParamsForm,
  newQueryForm,
  renameForm,
  templateEditForm,
  type INewQueryValues
} from './forms';
import {
  boundNames,
  templateBodyFromSql,
  templateFromQuery
} from './templates';

export class QueryActions extends RowActions {
  /** Expand the section in its accordion and show the New query form. */
  showNewQueryForm(prefill?: Partial<INewQueryValues>, title?: string): void {
    const host = this.host;
    host.reveal();
    void host.withDatasources().then(datasources => {
      host.openForm(close =>
        newQueryForm({
          datasources,
          prefill,
          title,
          onClose: close,
          save: async values => {
            const created = await host.ctx.api.queries.create(values);
            host.known.set(created.id, created);
            host.notice(`Saved “${created.name}”.`);
            host.changed(created.id);
          }
        })
      );
    });
  }

  async openInNotebook(query: ISavedQuery): Promise<void> {
    await this._onRow(
      query.id,
      `Opening “${query.name}” in a notebook…`,
      async () => {
        await this.host.ctx.notebooks.insert(openQueryCode(query.id), {
          run: true
        });
        return `Opened “${query.name}” in the notebook.`;
      }
    );
  }

  /** A history run's SQL in a new cell of the notebook, run at once. */
  async openRun(run: IHistoryItem): Promise<void> {
    const host = this.host;
    try {
      host.notice('Opening the SQL in a notebook…');
      await host.ctx.notebooks.insert(openSqlCode(run.sql, run.datasource_id), {
        run: true
      });
      host.notice('Opened the SQL in the notebook.');
    } catch (error) {
      host.notice(errorMessage(error), true);
    }
  }

  async toggleFavorite(query: ISavedQuery): Promise<void> {
    const host = this.host;
    const star = host
      .rowOf('query', query.id)
      ?.querySelector<HTMLButtonElement>('[data-testid="queries-star"]');
    if (star) {
      star.disabled = true;
    }
    try {
      const now = await host.favorites.toggle(query.id, host.ctx.api.queries);
      host.notice(
        now
          ? `Added “${query.name}” to favorites.`
          : `Removed “${query.name}” from favorites.`
      );
      host.changed(query.id);
    } catch (error) {
      host.notice(errorMessage(error), true);
      if (star) {
        star.disabled = false;
      }
    }
  }

  share(query: ISavedQuery): Promise<void> {
    return this.shareObject('query', query);
  }

  /**
   * Export ▸ <format>. A query with parameters first asks for their values
   * (prefilled with the defaults) in a form that stays open with the
   * server's message if the run is refused; one without exports at once.
   */
  async exportQuery(query: ISavedQuery, format: ExportFormat): Promise<void> {
    const host = this.host;
    const api = host.ctx.api.queries;
    const { label } = exportFormat(format);
    if (asksForParameters(query)) {
      host.openForm(close =>
        exportParamsForm({
          queryName: query.name,
          formatLabel: label,
          parameters: query.parameters,
          onClose: close,
          run: async values => {
            host.notice(`Exporting ${label}…`);
            const download = await api
              .exportQuery(
                exportRequest(query, format, values),
                fallbackFilename(query.name, format)
              )
              .catch((error: unknown) => {
                host.notice('');
                throw error; // shown in the form, which stays open
              });
            saveDownload(download);
            host.notice(`Downloaded ${exportSummary(download)}.`);
          }
        })
      );
      return;
    }
    await this._onRow(query.id, `Exporting ${label}…`, async () => {
      const download = await api.exportQuery(
        exportRequest(query, format),
        fallbackFilename(query.name, format)
      );
      saveDownload(download);
      return `Downloaded ${exportSummary(download)}.`;
    });
  }

  /** A new template from the saved query: name, description and SQL editable first. */
  saveAsTemplate(query: ISavedQuery): void {
    const host = this.host;
    host.openForm(close =>
      templateEditForm({
        title: `Save “${query.name}” as a template`,
        testId: 'queries-save-template-form',
        submitLabel: 'Save template',
        initial: {
          name: query.name,
          description: query.description,
          body: templateBodyFromSql(query.sql, query.parameters)
        },
        parameterNames: query.parameters.flatMap(boundNames),
        onClose: close,
        submit: async values => {
          const created = await host.ctx.api.queries.createTemplate(
            templateFromQuery(query, values)
          );
          this.showCreated(
            'templates',
            created.id,
            `Saved the template “${created.name}”.`
          );
        }
      })
    );
  }

  rename(query: ISavedQuery): void {
    const host = this.host;
    host.openForm(close =>
      renameForm({
        current: query.name,
        onClose: close,
        rename: async name => {
          const updated = await host.ctx.api.queries.update(query.id, {
            name,
            base_version: query.version
          });
          host.known.set(updated.id, updated);
          host.notice(`Renamed to “${updated.name}”.`);
          host.changed(updated.id);
        }
      })
    );
  }

  /**
   * Delete after a confirmation. When charts are built on the query the
   * server refuses (409) with a message naming them: show it and ask again
   * before deleting the charts too.
   */
  async remove(query: ISavedQuery): Promise<void> {
    const host = this.host;
    const sure = await this.confirmDelete(
      'Delete query',
      `Delete “${query.name}”? This cannot be undone.`
    );
    if (!sure) {
      return;
    }
    try {
      await host.ctx.api.queries.remove(query.id);
    } catch (error) {
      if (!(error instanceof AnalyticsAPIError && error.status === 409)) {
        host.notice(errorMessage(error), true);
        return;
      }
      // Charts are built on it: say so in the server's words, and ask again.
      const cascade = await this.confirmDelete(
        'Delete the query and its charts?',
        error.message,
        'Delete all'
      );
      if (!cascade) {
        return;
      }
      try {
        await host.ctx.api.queries.remove(query.id, true);
        host.ctx.notifyChanged({ area: 'charts' });
      } catch (again) {
        host.notice(errorMessage(again), true);
        return;
      }
    }
    host.known.delete(query.id);
    host.notice(`Deleted “${query.name}”.`);
    host.changed(query.id);
  }

  private _onRow(
    id: string,
    pending: string,
    work: () => Promise<string>
  ): Promise<void> {
    return this.runOnRow(this.host.rowOf('query', id), pending, work);
  }
}
