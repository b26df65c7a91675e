/**
 * The Datasources section: the caller's datasources as a tree (schemas,
 * tables and views, columns, all loaded lazily and in pages), with Add,
 * Edit, Test, Permissions, Delete and a table Preview tab.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';

import type { DatasourcesAPI, IDatasource } from '../../api/datasources';
import { errorMessage } from '../../api/request';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';
import { openShareDialog } from '../../ui/share-dialog';
import { emptyView } from '../../ui/status';
import { openDatasourceForm } from './form';
import { createPreviewWidget } from './preview';
import {
  type ISchemaTreeLoader,
  RelationNode,
  SchemaNode,
  SchemaTreeModel
} from './tree-model';
import {
  CSS,
  type ITestState,
  type ITreeHandlers,
  type ITreeTarget,
  TreeIndex,
  itemKey,
  renderDatasourceItem
} from './tree-view';

/** Relations per page of the tree; columns per page of one table. */
export const RELATIONS_PAGE = 100;
export const COLUMNS_PAGE = 200;
const DATASOURCES_PAGE = 100;

/** The loader of one datasource's tree, over the REST client. */
export function treeLoader(
  api: Pick<DatasourcesAPI, 'relationNames' | 'tableColumns'>,
  datasourceId: string
): ISchemaTreeLoader {
  return {
    relations: (schema, cursor) =>
      api.relationNames(datasourceId, {
        schema,
        cursor,
        limit: RELATIONS_PAGE
      }),
    columns: async (schema, table, cursor) => {
      const page = await api.tableColumns(datasourceId, {
        schema,
        table,
        cursor,
        limit: COLUMNS_PAGE
      });
      return {
        columns: page.columns,
        next: page.next,
        total: page.total_columns
      };
    }
  };
}

export class DatasourcesSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({
      ctx,
      id: 'analytics-ext:datasources',
      label: 'Datasources',
      watches: ['datasources'],
      errorTitle: 'Could not load datasources'
    });
    this.addClass(`${CSS}s`);
    this.addButton({
      icon: addIcon,
      tooltip: 'Add a datasource',
      testId: 'datasources-add',
      onClick: () => void this.add()
    });
    this.addButton({
      icon: refreshIcon,
      tooltip: 'Reload datasources',
      testId: 'datasources-refresh',
      onClick: () => void this.refresh()
    });
    this._tree = h('ul', {
      className: `${CSS}-tree`,
      testId: 'datasources-tree',
      attrs: { role: 'tree', 'aria-label': 'Datasources' }
    });
    this._tree.addEventListener('click', this._onClick);
    this._tree.addEventListener('dblclick', this._onDoubleClick);
    this._tree.addEventListener('keydown', this._onKeyDown);
    this._tree.addEventListener('focusin', this._onFocusIn);
    this._message = h('div', {
      className: `${CSS}-message`,
      testId: 'datasources-message',
      attrs: { role: 'alert' }
    });
    this._message.hidden = true;
  }

  /** The datasource (and table) under the last right-click, for the context menu. */
  targetOf(node: Element | null): ITreeTarget | null {
    let current: Element | null = node;
    while (current !== null && current !== this.node) {
      const target = this._index.targets.get(current);
      if (target !== undefined) {
        return target;
      }
      current = current.parentElement;
    }
    return null;
  }

  /** A loaded datasource by id. */
  datasource(id: string): IDatasource | undefined {
    return this._items.find(item => item.id === id);
  }

  /** Open the Add form; the new datasource shows once saved. */
  async add(): Promise<void> {
    const saved = await openDatasourceForm(this.ctx.api.datasources);
    if (saved !== null) {
      this._focusKey = itemKey(saved);
      this.ctx.notifyChanged({ area: 'datasources', id: saved.id });
      await this.refresh();
    }
  }

  async edit(ds: IDatasource): Promise<void> {
    const saved = await openDatasourceForm(this.ctx.api.datasources, ds);
    if (saved !== null) {
      this._tests.delete(ds.id);
      this.ctx.notifyChanged({ area: 'datasources', id: saved.id });
      await this.refresh();
    }
  }

  /** Test a saved datasource; the outcome shows under its row. */
  async test(ds: IDatasource): Promise<void> {
    const state: ITestState = { pending: true, result: null, error: null };
    this._tests.set(ds.id, state);
    this._renderTree();
    try {
      state.result = await this.ctx.api.datasources.testConnection({
        datasource_id: ds.id
      });
    } catch (error) {
      state.error = errorMessage(error);
    }
    state.pending = false;
    if (this._tests.get(ds.id) === state) {
      this._renderTree();
    }
  }

  async share(ds: IDatasource): Promise<void> {
    await openShareDialog(this.ctx, {
      area: 'datasources',
      objectId: ds.id,
      objectName: ds.name,
      levels: ['view', 'use', 'manage'],
      allowLinks: false
    });
  }

  async remove(ds: IDatasource): Promise<void> {
    const answer = await showDialog({
      title: 'Delete datasource',
      body: `Delete “${ds.name}”? Saved queries and charts on it stop working, for everyone it is shared with.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await this.ctx.api.datasources.remove(ds.id);
    } catch (error) {
      this._showMessage(
        `Could not delete “${ds.name}”: ${errorMessage(error)}`
      );
      return;
    }
    this._models.delete(ds.id);
    this._tests.delete(ds.id);
    this.ctx.notifyChanged({ area: 'datasources', id: ds.id });
    await this.refresh();
  }

  /** Open (or activate) the preview tab of one table. */
  preview(ds: IDatasource, relation: RelationNode): void {
    const widget = createPreviewWidget(this.ctx.api.datasources, {
      datasourceId: ds.id,
      datasourceName: ds.name,
      schema: relation.schema,
      table: relation.name
    });
    const existing = [...this.ctx.app.shell.widgets('main')].some(
      w => w.id === widget.id
    );
    this.ctx.openInMain(widget);
    if (!existing) {
      void widget.content.load();
    }
  }

  protected async render(): Promise<Node> {
    const [page, me] = await Promise.all([
      this.ctx.api.datasources.list(null, DATASOURCES_PAGE),
      this._currentUserId()
    ]);
    this._me = me;
    this._items = page.items;
    this._next = page.next;
    this._total = page.total;
    this._syncModels();
    this._showMessage(null);
    this._renderTree();
    return h('div', { className: `${CSS}-section` }, this._message, this._body);
  }

  /** Keep the open trees of unchanged datasources; reload changed ones. */
  private _syncModels(): void {
    const seen = new Set<string>();
    for (const ds of this._items) {
      seen.add(ds.id);
      const known = this._models.get(ds.id);
      if (known === undefined) {
        this._models.set(ds.id, this._newModel(ds));
      } else if (known.revision !== ds.revision) {
        known.revision = ds.revision;
        void known.model.reload();
      }
    }
    for (const id of [...this._models.keys()]) {
      if (!seen.has(id)) {
        this._models.delete(id);
        this._tests.delete(id);
      }
    }
  }

  private _newModel(ds: IDatasource): {
    model: SchemaTreeModel;
    revision: number;
  } {
    const model = new SchemaTreeModel(
      treeLoader(this.ctx.api.datasources, ds.id),
      () => this._scheduleRender(),
      errorMessage
    );
    return { model, revision: ds.revision };
  }

  private async _currentUserId(): Promise<string | null> {
    if (this._me !== undefined) {
      return this._me;
    }
    try {
      return (await this.ctx.api.getCurrentUser()).id;
    } catch {
      return null; // then levels show for whatever the caller does not manage
    }
  }

  private async _loadMoreDatasources(): Promise<void> {
    if (this._next === null || this._loadingMore) {
      return;
    }
    this._loadingMore = true;
    this._renderTree();
    try {
      const page = await this.ctx.api.datasources.list(
        this._next,
        DATASOURCES_PAGE
      );
      const known = new Set(this._items.map(item => item.id));
      this._items = [
        ...this._items,
        ...page.items.filter(item => !known.has(item.id))
      ];
      this._next = page.next;
      this._total = page.total;
      this._syncModels();
    } catch (error) {
      this._showMessage(
        `Could not load more datasources: ${errorMessage(error)}`
      );
    } finally {
      this._loadingMore = false;
      this._renderTree();
    }
  }

  /** Model changes come in bursts (loading, loaded): draw once per frame. */
  private _scheduleRender(): void {
    if (this._renderPending) {
      return;
    }
    this._renderPending = true;
    queueMicrotask(() => {
      this._renderPending = false;
      if (!this.isDisposed) {
        this._renderTree();
      }
    });
  }

  private _renderTree(): void {
    const active = document.activeElement;
    const hadFocus = active !== null && this._tree.contains(active);
    const activeKey =
      hadFocus && active instanceof HTMLElement
        ? (active.dataset.key ?? null)
        : null;
    if (activeKey !== null) {
      this._focusKey = activeKey;
    }
    this._index = new TreeIndex();
    const items = this._items.map(ds => {
      const entry = this._models.get(ds.id)!;
      return renderDatasourceItem(
        {
          ds,
          model: entry.model,
          shared: this._isShared(ds),
          test: this._tests.get(ds.id)
        },
        this._handlers,
        this._index
      );
    });
    this._tree.replaceChildren(...items);

    const children: HTMLElement[] = [];
    if (this._items.length === 0) {
      const add = h('button', {
        className: `jp-Button jp-mod-styled jp-mod-accept ${CSS}-addFirst`,
        testId: 'datasource-add-empty',
        text: 'Add a datasource',
        attrs: { type: 'button' }
      });
      add.addEventListener('click', () => void this.add());
      children.push(
        h(
          'div',
          { className: `${CSS}-empty` },
          emptyView(
            'No datasources yet. Add one to browse its tables and query it.',
            'datasources-empty'
          ),
          add
        )
      );
    } else {
      children.push(this._tree);
    }
    if (this._next !== null) {
      const more = h('button', {
        className: `${CSS}-more`,
        testId: 'datasources-more',
        text: this._loadingMore
          ? 'Loading…'
          : `Load more datasources (${this._items.length} of ${this._total})`,
        attrs: { type: 'button' }
      });
      more.disabled = this._loadingMore;
      more.addEventListener('click', () => void this._loadMoreDatasources());
      children.push(more);
    }
    this._body.replaceChildren(...children);
    // Replacing items (and moving the tree) drops focus: restore it last.
    this._applyRovingFocus(hadFocus);
  }

  /** One item is in the tab order (the focused one, else the first). */
  private _applyRovingFocus(restore: boolean): void {
    const items = this._visibleItems();
    if (items.length === 0) {
      return;
    }
    const current =
      items.find(item => item.dataset.key === this._focusKey) ??
      (this._focusKey !== null
        ? this._moreButtonFor(this._focusKey)
        : undefined) ??
      items[0];
    const tabbable =
      current.getAttribute('role') === 'treeitem' ? current : items[0];
    for (const item of items) {
      item.tabIndex = item === tabbable ? 0 : -1;
    }
    if (restore || this._focusPending) {
      this._focusPending = false;
      current.focus();
    }
  }

  private _moreButtonFor(key: string): HTMLElement | undefined {
    return [
      ...this._tree.querySelectorAll<HTMLElement>('button[data-key]')
    ].find(button => button.dataset.key === key);
  }

  private _visibleItems(): HTMLElement[] {
    return [...this._tree.querySelectorAll<HTMLElement>('[role="treeitem"]')];
  }

  private _isShared(ds: IDatasource): boolean {
    if (this._me) {
      return ds.owner_id !== this._me;
    }
    return ds.permission !== 'manage';
  }

  private _showMessage(text: string | null): void {
    this._message.hidden = text === null;
    this._message.textContent = text ?? '';
  }

  private _focus(key: string): void {
    this._focusKey = key;
    this._focusPending = true;
    this._renderTree();
  }

  private readonly _onClick = (event: MouseEvent): void => {
    const row = (event.target as Element).closest(`.${CSS}-row`);
    const item = row?.parentElement;
    if (!row || !item || !this._tree.contains(item)) {
      return;
    }
    const toggle = this._index.toggles.get(item);
    this._focusKey = item.dataset.key ?? null;
    item.focus();
    toggle?.();
  };

  private readonly _onDoubleClick = (event: MouseEvent): void => {
    const item = (event.target as Element).closest('[role="treeitem"]');
    const target = item ? this._index.targets.get(item) : undefined;
    if (target?.relation && target.datasource.permission !== 'view') {
      event.preventDefault();
      this.preview(target.datasource, target.relation);
    }
  };

  private readonly _onFocusIn = (event: FocusEvent): void => {
    const item = event.target as HTMLElement;
    if (item.getAttribute?.('role') === 'treeitem' && item.dataset.key) {
      this._focusKey = item.dataset.key;
      for (const other of this._visibleItems()) {
        other.tabIndex = other === item ? 0 : -1;
      }
    }
  };

  private readonly _onKeyDown = (event: KeyboardEvent): void => {
    const item = event.target as HTMLElement;
    if (item.getAttribute('role') !== 'treeitem') {
      return; // keys in buttons inside items are theirs
    }
    const items = this._visibleItems();
    const position = items.indexOf(item);
    const expanded = item.getAttribute('aria-expanded');
    const toggle = this._index.toggles.get(item);
    const target = this._index.targets.get(item);
    let handled = true;
    switch (event.key) {
      case 'Enter':
      case ' ':
        if (toggle) {
          toggle();
        } else {
          handled = false;
        }
        break;
      case 'ArrowDown':
        items[position + 1]?.focus();
        break;
      case 'ArrowUp':
        items[position - 1]?.focus();
        break;
      case 'Home':
        items[0]?.focus();
        break;
      case 'End':
        items[items.length - 1]?.focus();
        break;
      case 'ArrowRight':
        if (expanded === 'false') {
          toggle?.();
        } else if (expanded === 'true') {
          item.querySelector<HTMLElement>('[role="treeitem"]')?.focus();
        }
        break;
      case 'ArrowLeft':
        if (expanded === 'true') {
          toggle?.();
        } else {
          item.parentElement
            ?.closest<HTMLElement>('[role="treeitem"]')
            ?.focus();
        }
        break;
      case 'F2':
        if (
          target &&
          target.datasource.permission === 'manage' &&
          !target.relation
        ) {
          void this.edit(target.datasource);
        } else {
          handled = false;
        }
        break;
      case 'Delete':
        if (
          target &&
          target.datasource.permission === 'manage' &&
          !target.relation
        ) {
          void this.remove(target.datasource);
        } else {
          handled = false;
        }
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  };

  private readonly _handlers: ITreeHandlers = {
    toggleDatasource: ds => void this._models.get(ds.id)?.model.toggle(),
    toggleSchema: (ds, schema) =>
      void this._models.get(ds.id)?.model.toggleSchema(schema),
    toggleRelation: (ds, relation) =>
      void this._models.get(ds.id)?.model.toggleRelation(relation),
    moreRelations: (ds, schema) => {
      const model = this._models.get(ds.id)?.model;
      if (model) {
        const before = schema.relations.items.length;
        void model.loadMoreRelations(schema).then(() => {
          const first = schema.relations.items[before];
          if (first) {
            this._focus(itemKey(ds, first.key));
          }
        });
      }
    },
    moreColumns: (ds, relation) => {
      const model = this._models.get(ds.id)?.model;
      if (model) {
        const before = relation.columns.items.length;
        void model.loadMoreColumns(relation).then(() => {
          const first = relation.columns.items[before];
          if (first) {
            this._focus(itemKey(ds, `${relation.key}|c|${first.key}`));
          }
        });
      }
    },
    retry: (ds, node) => {
      const model = this._models.get(ds.id)?.model;
      if (!model) {
        return;
      }
      if (node instanceof SchemaTreeModel) {
        void model.reload();
      } else if (node instanceof SchemaNode) {
        node.expanded = false;
        void model.toggleSchema(node);
      } else if (node instanceof RelationNode) {
        node.expanded = false;
        void model.toggleRelation(node);
      }
    },
    preview: (ds, relation) => this.preview(ds, relation),
    test: ds => void this.test(ds),
    edit: ds => void this.edit(ds),
    share: ds => void this.share(ds),
    remove: ds => void this.remove(ds)
  };

  private readonly _tree: HTMLUListElement;
  private readonly _body = h('div', { className: `${CSS}-body` });
  private readonly _message: HTMLDivElement;
  private readonly _models = new Map<
    string,
    { model: SchemaTreeModel; revision: number }
  >();
  private readonly _tests = new Map<string, ITestState>();
  private _index = new TreeIndex();
  private _items: IDatasource[] = [];
  private _next: string | null = null;
  private _total = 0;
  private _loadingMore = false;
  private _me: string | null | undefined = undefined;
  private _focusKey: string | null = null;
  private _focusPending = false;
  private _renderPending = false;
}
