/**
 * The part of the Queries section above its list: the tab bar (arrow keys
 * move between tabs), the search/tag/datasource filters, the notice line and
 * the slot the inline forms open in. It lives outside the body the section
 * replaces on refresh, so typing in the search box or a form is never
 * interrupted by a reload; it owns the open tab and the filter, and asks the
 * section to reload when either changes.
 */
import type { IDatasourceChoice } from '../../api/queries';
import { h } from '../../ui/dom';
import {
  type IListFilter,
  type QueriesTab,
  NO_FILTER,
  TABS,
  filtersOf,
  knownTags
} from './model';
import { CSS } from './views';

/** Milliseconds the search box waits after the last keystroke. */
const SEARCH_DELAY = 250;

export class QueriesListHeader {
  /**
   * @param reload - load the list again (the tab or the filter changed)
   */
  constructor(private readonly reload: () => void) {
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
      button.addEventListener('click', () => this.selectTab(tab.id, true));
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
        this.reload();
      }, SEARCH_DELAY);
    });
    this._tagSelect = h('select', {
      className: `${CSS}-input`,
      testId: 'queries-tag-filter',
      attrs: { 'aria-label': 'Filter by tag' }
    });
    this._tagSelect.addEventListener('change', () => {
      this._filter = { ...this._filter, tag: this._tagSelect.value || null };
      this.reload();
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
      this.reload();
    });
    const filters = h(
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
    this.selectTab(this._tab, false);
    this.node = h(
      'div',
      { className: `${CSS}-header` },
      tabs,
      filters,
      this._noticeBox,
      this._formSlot
    );
  }

  readonly node: HTMLElement;

  /** The tab the user chose (the list may still show the previous one while loading). */
  get tab(): QueriesTab {
    return this._tab;
  }

  get filter(): IListFilter {
    return this._filter;
  }

  selectTab(tab: QueriesTab, reload: boolean): void {
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
      this.reload();
    }
  }

  /** A tag clicked on a row: filter the list by it. */
  filterByTag(tag: string): void {
    this._filter = { ...this._filter, tag };
    this._tagSelect.value = tag;
    this.reload();
  }

  /**
   * Refill the tag and datasource choices after a load: the tags seen so far
   * on this kind of row (queries or templates), and the datasources the
   * server listed; a datasource filter naming one that is gone is dropped.
   */
  updateFilterOptions(
    listTab: QueriesTab,
    rows: readonly { tags: string[] }[],
    datasources: readonly IDatasourceChoice[],
    datasourceById: ReadonlyMap<string, IDatasourceChoice>
  ): void {
    const seen = listTab === 'templates' ? this._templateTags : this._queryTags;
    const tags = knownTags(seen, rows, this._filter.tag);
    tags.forEach(tag => seen.add(tag));
    this._tagSelect.replaceChildren(
      h('option', { text: 'All tags', attrs: { value: '' } }),
      ...tags.map(tag => h('option', { text: tag, attrs: { value: tag } }))
    );
    this._tagSelect.value = this._filter.tag ?? '';

    this._datasourceSelect.replaceChildren(
      h('option', { text: 'All datasources', attrs: { value: '' } }),
      ...datasources.map(d =>
        h('option', { text: d.name, attrs: { value: d.id } })
      )
    );
    if (
      this._filter.datasourceId !== null &&
      !datasourceById.has(this._filter.datasourceId)
    ) {
      this._filter = { ...this._filter, datasourceId: null };
    }
    this._datasourceSelect.value = this._filter.datasourceId ?? '';
  }

  /** The section's one status line; an error is announced as an alert. */
  notice(text: string, error = false): void {
    this._noticeBox.textContent = text;
    this._noticeBox.hidden = text.length === 0;
    this._noticeBox.classList.toggle('jp-mod-error', error);
    this._noticeBox.setAttribute('role', error ? 'alert' : 'status');
  }

  /** Show an inline form (replacing any open one) and focus its first field. */
  openForm(form: HTMLElement): void {
    this._formSlot.replaceChildren(form);
    form.querySelector<HTMLElement>('input, textarea, select')?.focus();
  }

  closeForm(): void {
    this._formSlot.replaceChildren();
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
      this.selectTab(order[next], true);
      this._tabButtons.get(order[next])?.focus();
    }
  }

  private _tab: QueriesTab = 'saved';
  private _filter: IListFilter = { ...NO_FILTER };
  private readonly _queryTags = new Set<string>();
  private readonly _templateTags = new Set<string>();
  private readonly _tabButtons = new Map<QueriesTab, HTMLButtonElement>();
  private readonly _search: HTMLInputElement;
  private _searchTimer = 0;
  private readonly _tagSelect: HTMLSelectElement;
  private readonly _datasourceSelect: HTMLSelectElement;
  private readonly _noticeBox: HTMLElement;
  private readonly _formSlot: HTMLElement;
}
