/** The Datasources section of the Analytics sidebar, its commands and menus. */
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { IDatasource } from '../../api/datasources';
import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { PLUGIN_NAMESPACE } from '../../tokens';
import { DatasourcesSection } from './section';
import type { ITreeTarget } from './tree-view';

export namespace DatasourceCommandIDs {
  export const add = `${PLUGIN_NAMESPACE}:add-datasource`;
  export const refresh = `${PLUGIN_NAMESPACE}:refresh-datasources`;
  export const test = `${PLUGIN_NAMESPACE}:test-datasource`;
  export const edit = `${PLUGIN_NAMESPACE}:edit-datasource`;
  export const share = `${PLUGIN_NAMESPACE}:share-datasource`;
  export const remove = `${PLUGIN_NAMESPACE}:delete-datasource`;
  export const preview = `${PLUGIN_NAMESPACE}:preview-datasource-table`;
}

const ITEM = '.jp-AnalyticsDatasource-item[data-node="datasource"]';
const RELATION = '.jp-AnalyticsDatasource-item[data-node="relation"]';

export function activateDatasources(ctx: IAnalyticsContext): IAnalyticsSection {
  const section = new DatasourcesSection(ctx);
  const { app } = ctx;

  /** The context menu's target: the right-clicked item, or `args.id` (a datasource id). */
  const target = (args: ReadonlyPartialJSONObject): ITreeTarget | null => {
    const id = typeof args.id === 'string' ? args.id : null;
    if (id !== null) {
      const datasource = section.datasource(id);
      return datasource ? { datasource } : null;
    }
    return section.targetOf(
      app.contextMenuHitTest(
        node => node.getAttribute('role') === 'treeitem'
      ) ?? null
    );
  };
  const datasourceWith = (
    args: ReadonlyPartialJSONObject,
    levels: IDatasource['permission'][]
  ): IDatasource | null => {
    const found = target(args)?.datasource ?? null;
    return found !== null && levels.includes(found.permission) ? found : null;
  };

  app.commands.addCommand(DatasourceCommandIDs.add, {
    label: 'Add Datasource…',
    caption: 'Connect a database to browse and query it',
    icon: addIcon,
    execute: () => section.add()
  });
  app.commands.addCommand(DatasourceCommandIDs.refresh, {
    label: 'Refresh Datasources',
    caption: 'Reload the list of datasources',
    icon: refreshIcon,
    execute: () => section.refresh()
  });
  app.commands.addCommand(DatasourceCommandIDs.test, {
    label: 'Test Connection',
    isEnabled: args => datasourceWith(args, ['use', 'manage']) !== null,
    execute: args => {
      const ds = datasourceWith(args, ['use', 'manage']);
      return ds ? section.test(ds) : undefined;
    }
  });
  app.commands.addCommand(DatasourceCommandIDs.edit, {
    label: 'Edit Datasource…',
    isEnabled: args => datasourceWith(args, ['manage']) !== null,
    execute: args => {
      const ds = datasourceWith(args, ['manage']);
      return ds ? section.edit(ds) : undefined;
    }
  });
  app.commands.addCommand(DatasourceCommandIDs.share, {
    label: 'Permissions…',
    caption: 'Who may view, use or manage this datasource',
    isEnabled: args => datasourceWith(args, ['manage']) !== null,
    execute: args => {
      const ds = datasourceWith(args, ['manage']);
      return ds ? section.share(ds) : undefined;
    }
  });
  app.commands.addCommand(DatasourceCommandIDs.remove, {
    label: 'Delete Datasource…',
    isEnabled: args => datasourceWith(args, ['manage']) !== null,
    execute: args => {
      const ds = datasourceWith(args, ['manage']);
      return ds ? section.remove(ds) : undefined;
    }
  });
  app.commands.addCommand(DatasourceCommandIDs.preview, {
    label: 'Preview Table',
    caption: 'Show the first rows in a tab',
    isEnabled: () => {
      const hit = target({});
      return (
        hit?.relation !== undefined && hit.datasource.permission !== 'view'
      );
    },
    execute: () => {
      const hit = target({});
      if (hit?.relation && hit.datasource.permission !== 'view') {
        section.preview(hit.datasource, hit.relation);
      }
    }
  });

  ctx.palette?.addItem({
    command: DatasourceCommandIDs.add,
    category: 'Analytics'
  });
  ctx.palette?.addItem({
    command: DatasourceCommandIDs.refresh,
    category: 'Analytics'
  });

  app.contextMenu.addItem({
    command: DatasourceCommandIDs.preview,
    selector: RELATION,
    rank: 0
  });
  const items = [
    DatasourceCommandIDs.test,
    DatasourceCommandIDs.edit,
    DatasourceCommandIDs.share,
    DatasourceCommandIDs.remove
  ];
  items.forEach((command, rank) =>
    app.contextMenu.addItem({ command, selector: ITEM, rank: rank + 1 })
  );
  return section;
}
