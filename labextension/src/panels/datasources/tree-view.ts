/**
 * The DOM of the datasources tree: one `role="tree"` whose top items are the
 * datasources, then schemas, tables/views and columns, built from each
 * datasource's `SchemaTreeModel`. Names are set as text. The generic pieces
 * (items, groups, status lines) are in `tree-dom.ts`; keys and clicks are
 * wired to `ITreeHandlers` by `tree-navigation.ts` and the section.
 */
import {
  checkIcon,
  deleteIcon,
  editIcon,
  launchIcon,
  shareIcon
} from '@jupyterlab/ui-components';

import type { IConnectionTestResult, IDatasource } from '../../api/datasources';
import { h } from '../../ui/dom';
import { dialectBadge, formatRowEstimate, testResultText } from './format';
import {
  CSS,
  action,
  caret,
  childGroup,
  errorItem,
  loadingLine,
  muted,
  pagedChildren,
  statusItem,
  treeItem
} from './tree-dom';
import type {
  ColumnNode,
  RelationNode,
  SchemaNode,
  SchemaTreeModel
} from './tree-model';

/** What a saved datasource's Test shows under its row. */
export interface ITestState {
  pending: boolean;
  result: IConnectionTestResult | null;
  error: string | null;
}

/** What the user can do on the tree; the section implements it. */
export interface ITreeHandlers {
  toggleDatasource(ds: IDatasource): void;
  toggleSchema(ds: IDatasource, schema: SchemaNode): void;
  toggleRelation(ds: IDatasource, relation: RelationNode): void;
  moreRelations(ds: IDatasource, schema: SchemaNode): void;
  moreColumns(ds: IDatasource, relation: RelationNode): void;
  retry(
    ds: IDatasource,
    node: SchemaTreeModel | SchemaNode | RelationNode
  ): void;
  preview(ds: IDatasource, relation: RelationNode): void;
  test(ds: IDatasource): void;
  edit(ds: IDatasource): void;
  share(ds: IDatasource): void;
  remove(ds: IDatasource): void;
}

/** The object a tree item stands for (the context menu's commands ask). */
export interface ITreeTarget {
  datasource: IDatasource;
  relation?: RelationNode;
}

/** Per render: what each item toggles and stands for. */
export class TreeIndex {
  readonly toggles = new WeakMap<Element, () => void>();
  readonly targets = new WeakMap<Element, ITreeTarget>();
}

export interface IDatasourceView {
  ds: IDatasource;
  model: SchemaTreeModel;
  /** Shared with the caller (not their own): show the caller's level. */
  shared: boolean;
  test: ITestState | undefined;
}

/** Item key, unique in the whole tree. */
export function itemKey(ds: IDatasource, nodeKey = ''): string {
  return nodeKey === '' ? `d|${ds.id}` : `d|${ds.id}|${nodeKey}`;
}

export function renderDatasourceItem(
  view: IDatasourceView,
  handlers: ITreeHandlers,
  index: TreeIndex
): HTMLLIElement {
  const { ds, model } = view;
  const actions = h('span', { className: `${CSS}-actions` });
  const canUse = ds.permission === 'use' || ds.permission === 'manage';
  const canManage = ds.permission === 'manage';
  if (canUse) {
    actions.append(
      action(checkIcon, 'Test connection', 'datasource-test', () =>
        handlers.test(ds)
      )
    );
  }
  if (canManage) {
    actions.append(
      action(editIcon, 'Edit datasource', 'datasource-edit', () =>
        handlers.edit(ds)
      ),
      action(shareIcon, 'Permissions', 'datasource-share', () =>
        handlers.share(ds)
      ),
      action(deleteIcon, 'Delete datasource', 'datasource-delete', () =>
        handlers.remove(ds)
      )
    );
  }
  const label = h(
    'span',
    { className: `${CSS}-label` },
    h('span', {
      className: `${CSS}-badge`,
      testId: 'datasource-dialect',
      text: dialectBadge(ds.dialect),
      attrs: { title: ds.dialect }
    }),
    h('span', {
      className: `${CSS}-name`,
      testId: 'datasource-name',
      text: ds.name
    })
  );
  if (view.shared) {
    label.append(
      h('span', {
        className: `${CSS}-level`,
        testId: 'datasource-level',
        text: ds.permission,
        attrs: { title: `Shared with you: ${ds.permission}` }
      })
    );
  }
  const item = treeItem({
    level: 1,
    key: itemKey(ds),
    expanded: model.expanded,
    testId: 'datasource-item',
    node: 'datasource',
    name: ds.name,
    row: [caret(), label, actions],
    rowTestId: 'datasource-row',
    title: `${ds.name} (${ds.dialect})`
  });
  item.dataset.datasourceId = ds.id;
  index.toggles.set(item, () => handlers.toggleDatasource(ds));
  index.targets.set(item, { datasource: ds });

  if (view.test !== undefined) {
    item.append(testLine(view.test));
  }
  if (model.expanded) {
    const group = childGroup();
    if (model.status === 'loading' || model.status === 'idle') {
      group.append(statusItem(loadingLine('Loading schemas…')));
    } else if (model.status === 'error') {
      group.append(
        errorItem(model.error ?? '', () => handlers.retry(ds, model))
      );
    } else if (model.schemas.length === 0) {
      group.append(statusItem(muted('No schemas.')));
    } else {
      for (const schema of model.schemas) {
        group.append(renderSchema(ds, schema, handlers, index));
      }
    }
    item.append(group);
  }
  return item;
}

function renderSchema(
  ds: IDatasource,
  schema: SchemaNode,
  handlers: ITreeHandlers,
  index: TreeIndex
): HTMLLIElement {
  const list = schema.relations;
  const name = schema.name ?? '(default)';
  const row: HTMLElement[] = [
    caret(),
    h('span', { className: `${CSS}-schemaName`, text: name })
  ];
  if (list.total !== null) {
    row.push(muted(`${list.total}`, 'schema-count'));
  }
  const item = treeItem({
    level: 2,
    key: itemKey(ds, schema.key),
    expanded: schema.expanded,
    testId: 'schema-item',
    node: 'schema',
    name,
    row,
    rowTestId: 'schema-row',
    title: `Schema ${name}`
  });
  index.toggles.set(item, () => handlers.toggleSchema(ds, schema));
  index.targets.set(item, { datasource: ds });
  if (schema.expanded) {
    const group = childGroup();
    pagedChildren(
      group,
      list,
      relation => renderRelation(ds, relation, handlers, index),
      {
        loading: 'Loading tables…',
        empty: 'No tables or views.',
        retry: () => handlers.retry(ds, schema),
        more: () => handlers.moreRelations(ds, schema),
        moreLabel: 'Load more tables',
        moreTestId: 'relations-more',
        moreKey: itemKey(ds, `more|${schema.key}`)
      }
    );
    item.append(group);
  }
  return item;
}

function renderRelation(
  ds: IDatasource,
  relation: RelationNode,
  handlers: ITreeHandlers,
  index: TreeIndex
): HTMLLIElement {
  const list = relation.columns;
  const row: HTMLElement[] = [
    caret(),
    h('span', {
      className: `${CSS}-kind jp-mod-${relation.kind}`,
      text: relation.kind === 'view' ? 'V' : 'T',
      attrs: { title: relation.kind, 'aria-label': relation.kind }
    }),
    h('span', {
      className: `${CSS}-relationName`,
      testId: 'relation-name',
      text: relation.name
    })
  ];
  const estimate = formatRowEstimate(relation.rowEstimate);
  if (estimate) {
    row.push(muted(estimate, 'relation-rows'));
  }
  if (ds.permission !== 'view') {
    row.push(
      h(
        'span',
        { className: `${CSS}-actions` },
        action(launchIcon, `Preview ${relation.name}`, 'relation-preview', () =>
          handlers.preview(ds, relation)
        )
      )
    );
  }
  const item = treeItem({
    level: 3,
    key: itemKey(ds, relation.key),
    expanded: relation.expanded,
    testId: 'relation-item',
    node: 'relation',
    name: relation.name,
    row,
    rowTestId: 'relation-row',
    title: `${relation.kind === 'view' ? 'View' : 'Table'} ${relation.name}`
  });
  item.dataset.kind = relation.kind;
  index.toggles.set(item, () => handlers.toggleRelation(ds, relation));
  index.targets.set(item, { datasource: ds, relation });
  if (relation.expanded) {
    const group = childGroup();
    pagedChildren(group, list, column => renderColumn(ds, relation, column), {
      loading: 'Loading columns…',
      empty: 'No columns.',
      retry: () => handlers.retry(ds, relation),
      more: () => handlers.moreColumns(ds, relation),
      moreLabel: 'Load more columns',
      moreTestId: 'columns-more',
      moreKey: itemKey(ds, `more|${relation.key}`)
    });
    item.append(group);
  }
  return item;
}

function renderColumn(
  ds: IDatasource,
  relation: RelationNode,
  node: ColumnNode
): HTMLLIElement {
  const column = node.column;
  const row: HTMLElement[] = [
    h('span', { className: `${CSS}-caretSpacer` }),
    h('span', {
      className: `${CSS}-columnName`,
      testId: 'column-name',
      text: column.name
    }),
    h('span', {
      className: `${CSS}-columnType`,
      testId: 'column-type',
      text: column.type
    })
  ];
  if (column.primary_key) {
    row.push(
      h('span', {
        className: `${CSS}-pk`,
        testId: 'column-pk',
        text: 'PK',
        attrs: { title: 'Primary key' }
      })
    );
  }
  if (!column.nullable) {
    row.push(muted('not null', 'column-not-null'));
  }
  const item = treeItem({
    level: 4,
    key: itemKey(ds, `${relation.key}|c|${node.key}`),
    expanded: null,
    testId: 'column-item',
    node: 'column',
    name: column.name,
    row,
    rowTestId: 'column-row',
    title: `${column.name}: ${column.type}${column.nullable ? '' : ', not null'}${
      column.primary_key ? ', primary key' : ''
    }`
  });
  return item;
}

function testLine(state: ITestState): HTMLElement {
  let text = 'Testing the connection…';
  let mod = 'jp-mod-pending';
  if (!state.pending && state.result !== null) {
    text = testResultText(state.result);
    mod = state.result.ok ? 'jp-mod-ok' : 'jp-mod-failed';
  } else if (!state.pending) {
    text = state.error ?? '';
    mod = 'jp-mod-failed';
  }
  return h('div', {
    className: `${CSS}-testResult ${mod}`,
    testId: 'datasource-test-result',
    text,
    attrs: { role: 'status', 'data-ok': String(state.result?.ok === true) }
  });
}
