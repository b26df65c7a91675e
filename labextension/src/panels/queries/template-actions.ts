/**
 * What can be done to a query template from its row on the Templates tab:
 * use it (fill in its parameters and datasource to make a saved query), edit
 * it, delete it, share it. Kept apart from the saved-query actions because a
 * template is a different server object, with its own routes and form.
 */
import type { IQueryTemplate } from '../../api/queries';
import { RowActions } from './action-host';
import { templateEditForm, templateForm } from './forms';
import { boundNames, templatePatch } from './templates';

export class TemplateActions extends RowActions {
  /** "Use template": its parameters and a datasource, then a new saved query on the Saved tab. */
  use(template: IQueryTemplate): void {
    const host = this.host;
    void host.withDatasources().then(datasources => {
      host.openForm(close =>
        templateForm({
          templateName: template.name,
          parameters: template.parameters,
          datasources,
          onClose: close,
          instantiate: async values => {
            const created = await host.ctx.api.queries.instantiate(
              template.id,
              values
            );
            host.known.set(created.id, created);
            this.showCreated(
              'saved',
              created.id,
              `Created “${created.name}” from the template.`
            );
          }
        })
      );
    });
  }

  /** Edit name, description and body; only what changed is sent. */
  edit(template: IQueryTemplate): void {
    const host = this.host;
    host.openForm(close =>
      templateEditForm({
        title: `Edit template “${template.name}”`,
        testId: 'queries-edit-template-form',
        submitLabel: 'Save',
        initial: {
          name: template.name,
          description: template.description,
          body: template.body
        },
        parameterNames: template.parameters.flatMap(boundNames),
        onClose: close,
        submit: async values => {
          const patch = templatePatch(template, values);
          if (Object.keys(patch).length === 0) {
            host.notice('Nothing changed.');
            return;
          }
          const updated = await host.ctx.api.queries.updateTemplate(
            template.id,
            patch
          );
          host.notice(`Saved the template “${updated.name}”.`);
          host.changed(updated.id);
        }
      })
    );
  }

  async remove(template: IQueryTemplate): Promise<void> {
    const host = this.host;
    const sure = await this.confirmDelete(
      'Delete template',
      `Delete the template “${template.name}”? Queries made from it stay. This cannot be undone.`
    );
    if (!sure) {
      return;
    }
    await this.runOnRow(
      host.rowOf('template', template.id),
      'Deleting…',
      async () => {
        await host.ctx.api.queries.removeTemplate(template.id);
        host.changed(template.id);
        return `Deleted the template “${template.name}”.`;
      }
    );
  }

  share(template: IQueryTemplate): Promise<void> {
    return this.shareObject('query_template', template);
  }
}
