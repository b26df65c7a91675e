/**
 * The Queries section of the Analytics sidebar: Saved, Favorites, Templates
 * and History tabs over the query library routes, with search, tag and
 * datasource filters (applied by the server where its routes take them),
 * "Load more" paging on the server's cursor, stars whose state is the
 * server's favorites list, and the row actions (open in a notebook, export,
 * share, rename, delete).
 *
 * The tab bar, filters, notices and the inline form live above the body the
 * base class replaces on refresh, so typing in the search box or a form is
 * never interrupted by a reload.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';
import { AccordionPanel, Menu } from '@lumino/widgets';

import { AnalyticsAPIError, errorMessage } from '../../api';
import type {
  ExportFormat,
  IDatasourceChoice,
  IHistoryItem,
  IQueryTemplate,
  ISavedQuery
} from '../../api/queries';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { openShareDialog } from '../../ui/share-dialog';
import { AnalyticsSectionWidget } from '../../ui/section';
import { emptyView } from '../../ui/status';
import { ADD_TO_DASHBOARD_COMMAND } from '../dashboards/add-tile-model';
import { openQueryCode, openSqlCode } from './cells';
import {
  EXPORT_FORMATS,
  asksForParameters,
  exportFormat,
  exportRequest,
  exportSummary,
  fallbackFilename,
  saveDownload
} from './export';
import { FavoriteState } from './favorites';
import {
  exportParamsForm,
  newQueryForm,
  renameForm,
  templateEditForm,
  templateForm,
  type INewQueryValues
} from './forms';
import {
  type IListFilter,
  type QueriesTab,
  NO_FILTER,
  PAGE_SIZE,
  PagedList,
  TABS,
  filtersOf,
  historyRequest,
  knownTags,
  matchesFilter,
  queryFavorites,
  savedRequest,
  templatesRequest
} from './model';
import { QueryCommandIDs } from './commands-ids';
import {
  boundNames,
  templateBodyFromSql,
  templateFromQuery,
  templatePatch
} from './templates';
import {
  CSS,
  historyRow,
  loadMoreButton,
  queryRow,
  templateRow
} from './views';

/** Milliseconds the search box waits after the last keystroke. */
const SEARCH_DELAY = 250;

export class QueriesSection extends AnalyticsSectionWidget {
  constructor(ctx: IAnalyticsContext) {
    super({
      ctx,
      id: 'analytics-ext:queries',
      label: 'Queries',
      watches: ['queries', 'datasources'],
      errorTitle: 'Could not load queries'
    });
    this.addClass(CSS);
    this.node.insertBefore(this._buildHeader(), this.body);
    this.addButton({
      icon: addIcon,
      tooltip: 'New query',
      testId: 'queries-new',
      onClick: () => this.showNewQueryForm()
    });
    this.addButton({
      icon: refreshIcon,
      tooltip: 'Refresh queries',
      testId: 'queries-refresh',
      onClick: () => void this.refresh()
    });
  }

  // -- what commands call ----------------------------------------------------------------------

  /** A loaded saved query by id (rows of any tab). */
  queryById(id: string): ISavedQuery | null {
    return this._known.get(id) ?? null;
  }

  /** Whether the server lists `id` among the user's favorites. */
  isFavorite(id: string): boolean {
    return this._favorites.isFavorite(id);
  }

  /** Expand this section in its accordion and show the New query form. */
  showNewQueryForm(prefill?: Partial<INewQueryValues>, title?: string): void {
    this.reveal();
    void this._withDatasources().then(datasources => {
      const form = newQueryForm({
        datasources,
        prefill,
        title,
        onClose: () => this._closeForm(),
        save: async values => {
          const created = await this.ctx.api.queries.create(values);
          this._known.set(created.id, created);
          this._notice(`Saved “${created.name}”.`);
          this._changed(created.id);
        }
      });
      this._openForm(form.node);
    });
  }

  /** Show this section (expanded) in the sidebar. */
  reveal(): void {
    const parent = this.parent;
    if (parent instanceof AccordionPanel) {
      const index = parent.widgets.indexOf(this);
      if (index >= 0) {
        parent.expand(index); // does nothing when it is expanded already
      }
    }
  }

  async openInNotebook(query: ISavedQuery): Promise<void> {
    await this._action(
      query.id,
      `Opening “${query.name}” in a notebook…`,
      async () => {
        await this.ctx.notebooks.insert(openQueryCode(query.id), { run: true });
        return `Opened “${query.name}” in the notebook.`;
      }
    );
  }

  async toggleFavorite(query: ISavedQuery): Promise<void> {
    const row = this._row(query.id);
    const star = row?.querySelector<HTMLButtonElement>(
      '[data-testid="queries-star"]'
    );
    if (star) {
      star.disabled = true;
    }
    try {
      const now = await this._favorites.toggle(query.id, this.ctx.api.queries);
      this._notice(
        now
          ? `Added “${query.name}” to favorites.`
          : `Removed “${query.name}” from favorites.`
      );
      this._changed(query.id);
    } catch (error) {
      this._notice(errorMessage(error), true);
      if (star) {
        star.disabled = false;
      }
    }
  }

  async share(query: ISavedQuery): Promise<void> {
    await openShareDialog(this.ctx, {
      area: 'query',
      objectId: query.id,
      objectType: 'query',
      objectName: query.name,
      levels: ['view', 'edit', 'manage'],
      allowLinks: true
    });
  }

  /**
   * Export ▸ <format>. A query with parameters first asks for their values
   * (prefilled with the defaults) in a form that stays open with the
   * server's message if the run is refused; one without exports at once.
   */
  async exportQuery(query: ISavedQuery, format: ExportFormat): Promise<void> {
    const { label } = exportFormat(format);
    if (asksForParameters(query)) {
      this.reveal();
      const form = exportParamsForm({
        queryName: query.name,
        formatLabel: label,
        parameters: query.parameters,
        onClose: () => this._closeForm(),
        run: async values => {
          this._notice(`Exporting ${label}…`);
          const download = await this.ctx.api.queries
            .exportQuery(
              exportRequest(query, format, values),
              fallbackFilename(query.name, format)
            )
            .catch((error: unknown) => {
              this._notice('');
              throw error; // shown in the form, which stays open
            });
          saveDownload(download);
          this._notice(`Downloaded ${exportSummary(download)}.`);
        }
      });
      this._openForm(form.node);
      return;
    }
    await this._action(query.id, `Exporting ${label}…`, async () => {
      const download = await this.ctx.api.queries.exportQuery(
        exportRequest(query, format),
        fallbackFilename(query.name, format)
      );
      saveDownload(download);
      return `Downloaded ${exportSummary(download)}.`;
    });
  }

  /** A new template from the saved query: name, description and SQL editable first. */
  saveAsTemplate(query: ISavedQuery): void {
    this.reveal();
    const form = templateEditForm({
      title: `Save “${query.name}” as a template`,
      testId: 'queries-save-template-form',
      submitLabel: 'Save template',
      initial: {
        name: query.name,
        description: query.description,
        body: templateBodyFromSql(query.sql, query.parameters)
      },
      parameterNames: query.parameters.flatMap(boundNames),
      onClose: () => this._closeForm(),
      submit: async values => {
        const created = await this.ctx.api.queries.createTemplate(
          templateFromQuery(query, values)
        );
        this._notice(`Saved the template “${created.name}”.`);
        this._selectTab('templates', false);
        this._changed(created.id);
      }
    });
    this._openForm(form.node);
  }

  editTemplate(template: IQueryTemplate): void {
    this.reveal();
    const form = templateEditForm({
      title: `Edit template “${template.name}”`,
      testId: 'queries-edit-template-form',
      submitLabel: 'Save',
      initial: {
        name: template.name,
        description: template.description,
        body: template.body
      },
      parameterNames: template.parameters.flatMap(boundNames),
      onClose: () => this._closeForm(),
      submit: async values => {
        const patch = templatePatch(template, values);
        if (Object.keys(patch).length === 0) {
          this._notice('Nothing changed.');
          return;
        }
        const updated = await this.ctx.api.queries.updateTemplate(
          template.id,
          patch
        );
        this._notice(`Saved the template “${updated.name}”.`);
        this._changed(updated.id);
      }
    });
    this._openForm(form.node);
  }

  async removeTemplate(template: IQueryTemplate): Promise<void> {
    const answer = await showDialog({
      title: 'Delete template',
      body: `Delete the template “${template.name}”? Queries made from it stay. This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    await this._templateAction(template.id, 'Deleting…', async () => {
      await this.ctx.api.queries.removeTemplate(template.id);
      this._changed(template.id);
      return `Deleted the template “${template.name}”.`;
    });
  }

  async shareTemplate(template: IQueryTemplate): Promise<void> {
    await openShareDialog(this.ctx, {
      area: 'query',
      objectId: template.id,
      objectType: 'query_template',
      objectName: template.name,
      levels: ['view', 'edit', 'manage'],
      allowLinks: true
    });
  }

  rename(query: ISavedQuery): void {
    this.reveal();
    const form = renameForm({
      current: query.name,
      onClose: () => this._closeForm(),
      rename: async name => {
        const updated = await this.ctx.api.queries.update(query.id, {
          name,
          base_version: query.version
        });
        this._known.set(updated.id, updated);
        this._notice(`Renamed to “${updated.name}”.`);
        this._changed(updated.id);
      }
    });
    this._openForm(form.node);
  }

  async remove(query: ISavedQuery): Promise<void> {
    const answer = await showDialog({
      title: 'Delete query',
      body: `Delete “${query.name}”? This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await this.ctx.api.queries.remove(query.id);
    } catch (error) {
      if (!(error instanceof AnalyticsAPIError && error.status === 409)) {
        this._notice(errorMessage(error), true);
        return;
      }
      // Charts are built on it: say so in the server's words, and ask again.
      const cascade = await showDialog({
        title: 'Delete the query and its charts?',
        body: error.message,
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: 'Delete all' })
        ]
      });
      if (!cascade.button.accept) {
        return;
      }
      try {
        await this.ctx.api.queries.remove(query.id, true);
        this.ctx.notifyChanged({ area: 'charts' });
      } catch (again) {
        this._notice(errorMessage(again), true);
        return;
      }
    }
    this._known.delete(query.id);
    this._notice(`Deleted “${query.name}”.`);
    this._changed(query.id);
  }

  // -- loading ---------------------------------------------------------------------------------

  protected async render(): Promise<Node> {
    const generation = ++this._generation;
    const tab = this._tab;
    const filter = { ...this._filter };
    const api = this.ctx.api.queries;
    const [datasources, favorites] = await Promise.all([
      api.datasourceChoices(),
      api.allFavorites()
    ]);
    let list:
      | PagedList<ISavedQuery>
      | PagedList<IQueryTemplate>
      | PagedList<IHistoryItem>;
    switch (tab) {
      case 'saved': {
        const saved = new PagedList<ISavedQuery>();
        saved.reset(await api.list(savedRequest(filter)));
        list = saved;
        break;
      }
      case 'favorites': {
        const ids = queryFavorites(favorites).map(
          favorite => favorite.object_id
        );
        const loaded = new PagedList<ISavedQuery>();
        loaded.reset(await this._favoritePage(ids, 0));
        list = loaded;
        this._favoriteIds = ids;
        break;
      }
      case 'templates': {
        const templates = new PagedList<IQueryTemplate>();
        templates.reset(await api.templates(templatesRequest(filter)));
        list = templates;
        break;
      }
      case 'history': {
        const history = new PagedList<IHistoryItem>();
        history.reset(await api.history(historyRequest(filter)));
        list = history;
        break;
      }
    }
    if (generation !== this._generation) {
      return h('div'); // a newer load replaces this one
    }
    this._datasources = datasources;
    this._datasourceById = new Map(datasources.map(d => [d.id, d]));
    this._favorites.reset(favorites);
    this._list = list;
    this._listTab = tab;
    this._updateFilterOptions();
    this._content = h('div', {
      className: `${CSS}-content`,
      testId: `queries-list-${tab}`
    });
    this._renderList();
    return this._content;
  }

  /** Saved queries of favorites `ids[offset, offset + PAGE_SIZE)`; a synthetic cursor pages on. */
  private async _favoritePage(
    ids: readonly string[],
    offset: number
  ): Promise<{ items: ISavedQuery[]; next: string | null; total: number }> {
    const slice = ids.slice(offset, offset + PAGE_SIZE);
    const found = await Promise.all(
      slice.map(id =>
        this.ctx.api.queries.getQuery(id).catch(error => {
          // Gone or no longer visible since the favorites were listed: skip it.
          if (error instanceof AnalyticsAPIError && error.status === 404) {
            return null;
          }
          throw error;
        })
      )
    );
    const end = offset + slice.length;
    return {
      items: found.filter((query): query is ISavedQuery => query !== null),
      next: end < ids.length ? String(end) : null,
      total: ids.length
    };
  }

  private async _loadMore(button: HTMLButtonElement): Promise<void> {
    const list = this._list;
    const cursor = list?.next;
    if (!list || !cursor) {
      return;
    }
    const generation = this._generation;
    button.disabled = true;
    button.textContent = 'Loading…';
    const api = this.ctx.api.queries;
    try {
      switch (this._listTab) {
        case 'saved':
          (list as PagedList<ISavedQuery>).append(
            await api.list(savedRequest(this._filter, cursor))
          );
          break;
        case 'favorites':
          (list as PagedList<ISavedQuery>).append(
            await this._favoritePage(this._favoriteIds, Number(cursor))
          );
          break;
        case 'templates':
          (list as PagedList<IQueryTemplate>).append(
            await api.templates(templatesRequest(this._filter, cursor))
          );
          break;
        case 'history':
          (list as PagedList<IHistoryItem>).append(
            await api.history(historyRequest(this._filter, cursor))
          );
          break;
      }
      if (generation === this._generation) {
        this._updateFilterOptions();
        this._renderList();
      }
    } catch (error) {
      button.disabled = false;
      button.textContent = 'Load more';
      this._notice(errorMessage(error), true);
    }
  }

  // -- the list --------------------------------------------------------------------------------

  private _renderList(): void {
    const content = this._content;
    const list = this._list;
    if (!content || !list) {
      return;
    }
    const ul = h('ul', {
      className: `${CSS}-list`,
      attrs: { 'aria-label': this._tabLabel() }
    });
    let shown = 0;
    switch (this._listTab) {
      case 'saved':
      case 'favorites':
        for (const query of list.items as readonly ISavedQuery[]) {
          this._known.set(query.id, query);
          if (
            this._listTab === 'favorites' &&
            !matchesFilter(query, this._filter)
          ) {
            continue;
          }
          ul.append(this._queryRow(query));
          shown++;
        }
        break;
      case 'templates':
        for (const template of list.items as readonly IQueryTemplate[]) {
          ul.append(
            templateRow(template, {
              use: t => this._useTemplate(t),
              edit: t => this.editTemplate(t),
              remove: t => void this.removeTemplate(t),
              share: t => void this.shareTemplate(t)
            })
          );
          shown++;
        }
        break;
      case 'history':
        for (const item of list.items as readonly IHistoryItem[]) {
          ul.append(
            historyRow(item, this._datasourceById, {
              open: run => void this._openRun(run),
              save: run =>
                this.showNewQueryForm(
                  {
                    sql: run.sql,
                    datasource_id: run.datasource_id ?? undefined
                  },
                  'Save run as query'
                )
            })
          );
          shown++;
        }
        break;
    }
    const parts: Node[] = [];
    if (shown === 0) {
      parts.push(emptyView(this._emptyText(), 'queries-empty'));
    } else {
      parts.push(ul);
    }
    const total = list.total;
    if (total !== null && this._listTab !== 'history') {
      parts.push(
        h('div', {
          className: `${CSS}-count`,
          testId: 'queries-count',
          text: `${list.items.length} of ${total}`
        })
      );
    }
    if (list.hasMore) {
      parts.push(loadMoreButton(button => void this._loadMore(button)));
    }
    content.replaceChildren(...parts);
  }

  private _queryRow(query: ISavedQuery): HTMLLIElement {
    const datasource = query.datasource_id
      ? this._datasourceById.get(query.datasource_id)
      : null;
    return queryRow(
      query,
      {
        favorite: this._favorites.isFavorite(query.id),
        favoritePending: this._favorites.isPending(query.id),
        datasourceName: datasource?.name ?? null
      },
      {
        toggleFavorite: q => void this.toggleFavorite(q),
        open: q => void this.openInNotebook(q),
        exportMenu: (q, anchor) =>
          this._openMenu(this._exportMenu(q.id), anchor),
        share: q => void this.share(q),
        moreMenu: (q, anchor) => this._openMenu(this._moreMenu(q.id), anchor),
        filterTag: tag => {
          this._filter = { ...this._filter, tag };
          this._tagSelect.value = tag;
          void this.refresh();
        }
      }
    );
  }

  private _emptyText(): string {
    const filtered =
      this._filter.q.trim() !== '' ||
      this._filter.tag !== null ||
      this._filter.datasourceId !== null;
    if (filtered && this._listTab !== 'history') {
      return 'Nothing matches the filter.';
    }
    switch (this._listTab) {
      case 'saved':
        return 'No saved queries yet. Use “New query” to save one.';
      case 'favorites':
        return 'No favorites yet. Star a saved query to keep it here.';
      case 'templates':
        return 'No query templates.';
      case 'history':
        return filtered ? 'No runs on this datasource.' : 'No query runs yet.';
    }
  }

  private _tabLabel(): string {
    return TABS.find(tab => tab.id === this._listTab)?.label ?? 'Queries';
  }

  // -- menus -----------------------------------------------------------------------------------

  private _exportMenu(id: string): Menu {
    const menu = new Menu({ commands: this.ctx.app.commands });
    menu.addClass(`${CSS}-menu`);
    for (const { format } of EXPORT_FORMATS) {
      menu.addItem({
        command: QueryCommandIDs.exportQuery,
        args: { id, format }
      });
    }
    return menu;
  }

  private _moreMenu(id: string): Menu {
    const menu = new Menu({ commands: this.ctx.app.commands });
    menu.addClass(`${CSS}-menu`);
    menu.addItem({ command: QueryCommandIDs.openQuery, args: { id } });
    menu.addItem({ command: QueryCommandIDs.toggleFavorite, args: { id } });
    menu.addItem({ command: QueryCommandIDs.shareQuery, args: { id } });
    menu.addItem({ command: QueryCommandIDs.saveAsTemplate, args: { id } });
    menu.addItem({
      command: ADD_TO_DASHBOARD_COMMAND,
      args: { kind: 'query', id, name: this.queryById(id)?.name ?? '' }
    });
    menu.addItem({ type: 'separator' });
    menu.addItem({ command: QueryCommandIDs.renameQuery, args: { id } });
    menu.addItem({ command: QueryCommandIDs.deleteQuery, args: { id } });
    return menu;
  }

  private _openMenu(menu: Menu, anchor: HTMLElement): void {
    const box = anchor.getBoundingClientRect();
    menu.aboutToClose.connect(() => {
      // Dispose after the triggered command has read its arguments.
      requestAnimationFrame(() => menu.dispose());
    });
    menu.open(box.left, box.bottom);
  }

  // -- templates and history -------------------------------------------------------------------

  private _useTemplate(template: IQueryTemplate): void {
    void this._withDatasources().then(datasources => {
      const form = templateForm({
        templateName: template.name,
        parameters: template.parameters,
        datasources,
        onClose: () => this._closeForm(),
        instantiate: async values => {
          const created = await this.ctx.api.queries.instantiate(
            template.id,
            values
          );
          this._known.set(created.id, created);
          this._notice(`Created “${created.name}” from the template.`);
          this._selectTab('saved', false);
          this._changed(created.id);
        }
      });
      this._openForm(form.node);
    });
  }

  private async _openRun(run: IHistoryItem): Promise<void> {
    try {
      this._notice('Opening the SQL in a notebook…');
      await this.ctx.notebooks.insert(openSqlCode(run.sql, run.datasource_id), {
        run: true
      });
      this._notice('Opened the SQL in the notebook.');
    } catch (error) {
      this._notice(errorMessage(error), true);
    }
  }

  // -- header: tabs, filters, notice, form -----------------------------------------------------

  private _buildHeader(): HTMLElement {
    const tabs = h('div', {
      className: `${CSS}-tabs`,
      attrs: { role: 'tablist', 'aria-label': 'Query lists' }
    });
    for (const tab of TABS) {
      const button = h('button', {
        className: `${CSS}-tab`,
        testId: `queries-tab-${tab.id}`,
        text: tab.label,
        attrs: { type: 'button', role: 'tab' }
      });
      button.addEventListener('click', () => this._selectTab(tab.id, true));
      button.addEventListener('keydown', event => this._tabKey(event, tab.id));
      this._tabButtons.set(tab.id, button);
      tabs.append(button);
    }

    this._search = h('input', {
      className: `${CSS}-input ${CSS}-search`,
      testId: 'queries-search',
      attrs: {
        type: 'search',
        placeholder: 'Search by name',
        'aria-label': 'Search queries by name',
        maxlength: '200'
      }
    });
    this._search.addEventListener('input', () => {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = window.setTimeout(() => {
        this._filter = { ...this._filter, q: this._search.value };
        void this.refresh();
      }, SEARCH_DELAY);
    });
    this._tagSelect = h('select', {
      className: `${CSS}-input`,
      testId: 'queries-tag-filter',
      attrs: { 'aria-label': 'Filter by tag' }
    });
    this._tagSelect.addEventListener('change', () => {
      this._filter = { ...this._filter, tag: this._tagSelect.value || null };
      void this.refresh();
    });
    this._datasourceSelect = h('select', {
      className: `${CSS}-input`,
      testId: 'queries-datasource-filter',
      attrs: { 'aria-label': 'Filter by datasource' }
    });
    this._datasourceSelect.addEventListener('change', () => {
      this._filter = {
        ...this._filter,
        datasourceId: this._datasourceSelect.value || null
      };
      void this.refresh();
    });
    this._filters = h(
      'div',
      { className: `${CSS}-filters` },
      this._search,
      this._tagSelect,
      this._datasourceSelect
    );
    this._noticeBox = h('div', {
      className: `${CSS}-notice`,
      testId: 'queries-notice',
      attrs: { role: 'status', 'aria-live': 'polite' }
    });
    this._noticeBox.hidden = true;
    this._formSlot = h('div', { className: `${CSS}-formSlot` });
    this._selectTab(this._tab, false);
    return h(
      'div',
      { className: `${CSS}-header` },
      tabs,
      this._filters,
      this._noticeBox,
      this._formSlot
    );
  }

  private _selectTab(tab: QueriesTab, reload: boolean): void {
    if (tab !== this._tab) {
      // Tags differ between queries and templates: a tag chosen on one means nothing on the other.
      this._filter = { ...this._filter, tag: null };
    }
    this._tab = tab;
    for (const [id, button] of this._tabButtons) {
      const selected = id === tab;
      button.setAttribute('aria-selected', selected ? 'true' : 'false');
      button.tabIndex = selected ? 0 : -1;
      button.classList.toggle('jp-mod-selected', selected);
    }
    const offers = filtersOf(tab);
    this._search.hidden = !offers.search;
    this._tagSelect.hidden = !offers.tag;
    this._datasourceSelect.hidden = !offers.datasource;
    if (reload) {
      void this.refresh();
    }
  }

  /** Arrow keys move between tabs (the WAI-ARIA tabs pattern). */
  private _tabKey(event: KeyboardEvent, current: QueriesTab): void {
    const order = TABS.map(tab => tab.id);
    const index = order.indexOf(current);
    let next: number | null = null;
    if (event.key === 'ArrowRight') {
      next = (index + 1) % order.length;
    } else if (event.key === 'ArrowLeft') {
      next = (index - 1 + order.length) % order.length;
    } else if (event.key === 'Home') {
      next = 0;
    } else if (event.key === 'End') {
      next = order.length - 1;
    }
    if (next !== null) {
      event.preventDefault();
      this._selectTab(order[next], true);
      this._tabButtons.get(order[next])?.focus();
    }
  }

  private _updateFilterOptions(): void {
    const rows =
      this._listTab === 'history' || !this._list
        ? []
        : (this._list.items as readonly { tags: string[] }[]);
    const seen =
      this._listTab === 'templates' ? this._templateTags : this._queryTags;
    const tags = knownTags(seen, rows, this._filter.tag);
    tags.forEach(tag => seen.add(tag));
    this._tagSelect.replaceChildren(
      h('option', { text: 'All tags', attrs: { value: '' } }),
      ...tags.map(tag => h('option', { text: tag, attrs: { value: tag } }))
    );
    this._tagSelect.value = this._filter.tag ?? '';

    this._datasourceSelect.replaceChildren(
      h('option', { text: 'All datasources', attrs: { value: '' } }),
      ...this._datasources.map(d =>
        h('option', { text: d.name, attrs: { value: d.id } })
      )
    );
    if (
      this._filter.datasourceId !== null &&
      !this._datasourceById.has(this._filter.datasourceId)
    ) {
      this._filter = { ...this._filter, datasourceId: null };
    }
    this._datasourceSelect.value = this._filter.datasourceId ?? '';
  }

  private _openForm(form: HTMLElement): void {
    this._formSlot.replaceChildren(form);
    form.querySelector<HTMLElement>('input, textarea, select')?.focus();
  }

  private _closeForm(): void {
    this._formSlot.replaceChildren();
  }

  /** The datasources for a form: those of the last load, else fetched now. */
  private async _withDatasources(): Promise<IDatasourceChoice[]> {
    if (this._datasources.length === 0) {
      try {
        this._datasources = await this.ctx.api.queries.datasourceChoices();
        this._datasourceById = new Map(this._datasources.map(d => [d.id, d]));
      } catch (error) {
        this._notice(errorMessage(error), true);
      }
    }
    return this._datasources;
  }

  private _notice(text: string, error = false): void {
    this._noticeBox.textContent = text;
    this._noticeBox.hidden = text.length === 0;
    this._noticeBox.classList.toggle('jp-mod-error', error);
    this._noticeBox.setAttribute('role', error ? 'alert' : 'status');
  }

  private _row(id: string): HTMLElement | null {
    return (
      [...this.node.querySelectorAll<HTMLElement>('[data-query-id]')].find(
        row => row.dataset.queryId === id
      ) ?? null
    );
  }

  private _templateRow(id: string): HTMLElement | null {
    return (
      [...this.node.querySelectorAll<HTMLElement>('[data-template-id]')].find(
        row => row.dataset.templateId === id
      ) ?? null
    );
  }

  private _templateAction(
    id: string,
    pending: string,
    work: () => Promise<string>
  ): Promise<void> {
    return this._rowAction(this._templateRow(id), pending, work);
  }

  /**
   * Run a row action with its progress on the row (busy, a status line) and
   * its outcome in the section's notice.
   */
  private _action(
    id: string,
    pending: string,
    work: () => Promise<string>
  ): Promise<void> {
    return this._rowAction(this._row(id), pending, work);
  }

  private async _rowAction(
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
      this._notice(done);
    } catch (error) {
      this._notice(errorMessage(error), true);
    } finally {
      row?.classList.remove('jp-mod-busy');
      row?.setAttribute('aria-busy', 'false');
      status?.replaceChildren();
    }
  }

  /** Tell everyone (this section included) that queries changed. */
  private _changed(id?: string): void {
    this.ctx.notifyChanged({ area: 'queries', id });
  }

  private _tab: QueriesTab = 'saved';
  private _listTab: QueriesTab = 'saved';
  private _filter: IListFilter = { ...NO_FILTER };
  private _generation = 0;
  private _list:
    | PagedList<ISavedQuery>
    | PagedList<IQueryTemplate>
    | PagedList<IHistoryItem>
    | null = null;
  private _favoriteIds: string[] = [];
  private readonly _favorites = new FavoriteState();
  private readonly _known = new Map<string, ISavedQuery>();
  private readonly _queryTags = new Set<string>();
  private readonly _templateTags = new Set<string>();
  private _datasources: IDatasourceChoice[] = [];
  private _datasourceById: ReadonlyMap<string, IDatasourceChoice> = new Map();
  private _content: HTMLElement | null = null;
  private readonly _tabButtons = new Map<QueriesTab, HTMLButtonElement>();
  private _search!: HTMLInputElement;
  private _searchTimer = 0;
  private _tagSelect!: HTMLSelectElement;
  private _datasourceSelect!: HTMLSelectElement;
  private _filters!: HTMLElement;
  private _noticeBox!: HTMLElement;
  private _formSlot!: HTMLElement;
}
