/**
 * The Queries section of the Analytics sidebar, its commands (palette: New
 * Query, Refresh Queries) and the context menu of a saved-query row (Open in
 * notebook, Favorite, Share, Save as Template, Export ▸, Rename, Delete).
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Menu } from '@lumino/widgets';

import type { IAnalyticsContext, IAnalyticsSection } from '../../context';
import { CommandIDs } from '../../tokens';
import { ADD_TO_DASHBOARD_COMMAND } from '../dashboards/add-tile-model';
import type { ExportFormat, ISavedQuery } from '../../api/queries';
import { QUERY_ROW_SELECTOR, QueryCommandIDs } from './commands-ids';
import { EXPORT_FORMATS, exportFormat } from './export';
import { QueriesSection } from './section';

export { QueryCommandIDs } from './commands-ids';

export function activateQueries(ctx: IAnalyticsContext): IAnalyticsSection {
  const section = new QueriesSection(ctx);
  const { app, palette } = ctx;
  const { commands } = app;

  /** The query a command acts on: its `id` argument, else the row under the context menu. */
  const target = (args: ReadonlyPartialJSONObject): ISavedQuery | null => {
    let id = typeof args.id === 'string' ? args.id : null;
    if (id === null) {
      const row = app.contextMenuHitTest(node =>
        node.matches(QUERY_ROW_SELECTOR)
      );
      id = row?.dataset.queryId ?? null;
    }
    return id === null ? null : section.queryById(id);
  };
  const hasTarget = (args: ReadonlyPartialJSONObject): boolean =>
    target(args) !== null;

  commands.addCommand(QueryCommandIDs.newQuery, {
    label: 'New Query',
    caption: 'Save a new SQL query in the query library',
    execute: async () => {
      await commands.execute(CommandIDs.openSidebar);
      section.queryActions.showNewQueryForm();
    }
  });
  commands.addCommand(QueryCommandIDs.refreshQueries, {
    label: 'Refresh Queries',
    caption: 'Load the saved queries, favorites, templates and history again',
    execute: () => section.refresh()
  });
  commands.addCommand(QueryCommandIDs.openQuery, {
    label: 'Open in Notebook',
    caption: 'Insert a cell with the query editor into the notebook and run it',
    isEnabled: hasTarget,
    execute: args => {
      const query = target(args);
      return query ? section.queryActions.openInNotebook(query) : undefined;
    }
  });
  commands.addCommand(QueryCommandIDs.toggleFavorite, {
    label: args => {
      const query = target(args);
      return query && section.isFavorite(query.id) ? 'Unfavorite' : 'Favorite';
    },
    isToggled: args => {
      const query = target(args);
      return query !== null && section.isFavorite(query.id);
    },
    isEnabled: hasTarget,
    execute: args => {
      const query = target(args);
      return query ? section.queryActions.toggleFavorite(query) : undefined;
    }
  });
  commands.addCommand(QueryCommandIDs.shareQuery, {
    label: 'Share…',
    isEnabled: args => target(args)?.permission === 'manage',
    execute: args => {
      const query = target(args);
      return query ? section.queryActions.share(query) : undefined;
    }
  });
  commands.addCommand(QueryCommandIDs.saveAsTemplate, {
    label: 'Save as Template…',
    caption:
      'Make a query template from this query (its SQL, parameters, description and tags)',
    isEnabled: hasTarget,
    execute: args => {
      const query = target(args);
      if (query) {
        section.queryActions.saveAsTemplate(query);
      }
    }
  });
  commands.addCommand(QueryCommandIDs.exportQuery, {
    label: args =>
      typeof args.format === 'string'
        ? exportFormat(args.format).label
        : 'Export',
    caption: 'Run the query and download its rows',
    isEnabled: hasTarget,
    execute: args => {
      const query = target(args);
      const format = (
        typeof args.format === 'string' ? args.format : 'csv'
      ) as ExportFormat;
      return query
        ? section.queryActions.exportQuery(query, exportFormat(format).format)
        : undefined;
    }
  });
  commands.addCommand(QueryCommandIDs.renameQuery, {
    label: 'Rename…',
    isEnabled: args => {
      const permission = target(args)?.permission;
      return permission === 'edit' || permission === 'manage';
    },
    execute: args => {
      const query = target(args);
      if (query) {
        section.queryActions.rename(query);
      }
    }
  });
  commands.addCommand(QueryCommandIDs.deleteQuery, {
    label: 'Delete…',
    isEnabled: args => target(args)?.permission === 'manage',
    execute: args => {
      const query = target(args);
      return query ? section.queryActions.remove(query) : undefined;
    }
  });

  palette?.addItem({
    command: QueryCommandIDs.newQuery,
    category: 'Analytics'
  });
  palette?.addItem({
    command: QueryCommandIDs.refreshQueries,
    category: 'Analytics'
  });

  const exportMenu = new Menu({ commands });
  exportMenu.title.label = 'Export';
  for (const { format } of EXPORT_FORMATS) {
    exportMenu.addItem({
      command: QueryCommandIDs.exportQuery,
      args: { format }
    });
  }
  const selector = QUERY_ROW_SELECTOR;
  app.contextMenu.addItem({
    command: QueryCommandIDs.openQuery,
    selector,
    rank: 1
  });
  app.contextMenu.addItem({
    command: QueryCommandIDs.toggleFavorite,
    selector,
    rank: 2
  });
  app.contextMenu.addItem({
    command: QueryCommandIDs.shareQuery,
    selector,
    rank: 3
  });
  app.contextMenu.addItem({
    command: ADD_TO_DASHBOARD_COMMAND,
    args: { kind: 'query' },
    selector,
    rank: 3.5
  });
  app.contextMenu.addItem({
    command: QueryCommandIDs.saveAsTemplate,
    selector,
    rank: 4
  });
  app.contextMenu.addItem({
    type: 'submenu',
    submenu: exportMenu,
    selector,
    rank: 5
  });
  app.contextMenu.addItem({
    command: QueryCommandIDs.renameQuery,
    selector,
    rank: 6
  });
  app.contextMenu.addItem({
    command: QueryCommandIDs.deleteQuery,
    selector,
    rank: 7
  });
  return section;
}
