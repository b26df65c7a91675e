/**
 * The Datasources section: the caller's datasources as a tree (schemas,
 * tables and views, columns, all loaded lazily and in pages), with Add,
 * Edit, Test, Permissions, Delete and a table Preview tab. This module holds
 * the list (its pages, the empty state) and those actions; each datasource's
 * tree lives in `datasource-trees.ts`, what it looks like in `tree-view.ts`,
 * and keyboard and focus in `tree-navigation.ts`. The commands and context
 * menus that call these actions are registered in `index.ts`.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';

import type { IDatasource } from '../../api/datasources';
import { errorMessage } from '../../api/request';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AnalyticsSectionWidget } from '../../ui/section';
import { openShareDialog } from '../../ui/share-dialog';
import { emptyView } from '../../ui/status';
import { DatasourceTrees } from './datasource-trees';
import { openDatasourceForm } from './form';
import { createPreviewWidget } from './preview';
import { CSS } from './tree-dom';
import type { RelationNode } from './tree-model';
import { TreeNavigation } from './tree-navigation';
import {
  type ITestState,
  type ITreeHandlers,
  type ITreeTarget,
  itemKey,
  renderDatasourceItem
} from './tree-view';

const DATASOURCES_PAGE = 100;

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
      const target = this._tree.index.targets.get(current);
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
      this._tree.focusKey = itemKey(saved);
      this.ctx.notifyChanged({ area: 'datasources', id: saved.id });
      await this.refresh();
    }
  }

  async edit(ds: IDatasource): Promise<void> {
    const saved = await openDatasourceForm(this.ctx.api.datasources, ds);
    if (saved !== null) {
      this._trees.clearTest(ds.id);
      this.ctx.notifyChanged({ area: 'datasources', id: saved.id });
      await this.refresh();
    }
  }

  /** Test a saved datasource; the outcome shows under its row. */
  async test(ds: IDatasource): Promise<void> {
    const state: ITestState = { pending: true, result: null, error: null };
    this._trees.setTest(ds.id, state);
    this._renderTree();
    try {
      state.result = await this.ctx.api.datasources.testConnection({
        datasource_id: ds.id
      });
    } catch (error) {
      state.error = errorMessage(error);
    }
    state.pending = false;
    if (this._trees.test(ds.id) === state) {
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
    this._trees.forget(ds.id);
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
    this._trees.sync(this._items);
    this._showMessage(null);
    this._renderTree();
    return h('div', { className: `${CSS}-section` }, this._message, this._body);
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
      this._trees.sync(this._items);
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
    const hadFocus = this._tree.captureFocus();
    this._tree.setItems(index =>
      this._items.map(ds =>
        renderDatasourceItem(
          {
            ds,
            model: this._trees.model(ds.id)!,
            shared: this._isShared(ds),
            test: this._trees.test(ds.id)
          },
          this._handlers,
          index
        )
      )
    );

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
      children.push(this._tree.node);
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
    this._tree.applyRovingFocus(hadFocus);
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

  /** Focus the item with `key` (a page's first new item) once drawn. */
  private _focus(key: string): void {
    this._tree.requestFocus(key);
    this._renderTree();
  }

  private readonly _trees = new DatasourceTrees(this.ctx.api.datasources, () =>
    this._scheduleRender()
  );
  private readonly _handlers: ITreeHandlers = {
    ...this._trees.nodeHandlers(key => this._focus(key)),
    preview: (ds, relation) => this.preview(ds, relation),
    test: ds => void this.test(ds),
    edit: ds => void this.edit(ds),
    share: ds => void this.share(ds),
    remove: ds => void this.remove(ds)
  };
  private readonly _tree = new TreeNavigation(this._handlers);
  private readonly _body = h('div', { className: `${CSS}-body` });
  private readonly _message: HTMLDivElement;
  private _items: IDatasource[] = [];
  private _next: string | null = null;
  private _total = 0;
  private _loadingMore = false;
  private _me: string | null | undefined = undefined;
  private _renderPending = false;
}
