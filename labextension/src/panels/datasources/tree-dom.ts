/**
 * The building blocks of the datasources tree's DOM, apart from what any one
 * node shows: ARIA tree items and groups, status lines (loading, error with
 * Retry, a paged list's "Load more"), carets, muted text and icon buttons.
 * Kept apart from `tree-view.ts` so that module reads as what a datasource,
 * schema, table and column look like, and this one as how a tree is made.
 */
import { caretRightIcon, type LabIcon } from '@jupyterlab/ui-components';

import { h } from '../../ui/dom';
import type { PagedChildren } from './tree-model';

/** The class prefix of the section, its tree and everything in them. */
export const CSS = 'jp-AnalyticsDatasource';

/** The texts and callbacks of one paged list of children. */
export interface IPagedTexts {
  loading: string;
  empty: string;
  retry: () => void;
  more: () => void;
  moreLabel: string;
  moreTestId: string;
  moreKey: string;
}

/** Fill `group` with a paged list: its items, or its loading/error/empty line, then "Load more". */
export function pagedChildren<T>(
  group: HTMLElement,
  list: PagedChildren<T>,
  render: (item: T) => HTMLElement,
  texts: IPagedTexts
): void {
  if (list.status === 'loading' || list.status === 'idle') {
    group.append(statusItem(loadingLine(texts.loading)));
    return;
  }
  if (list.status === 'error') {
    group.append(errorItem(list.error ?? '', texts.retry));
    return;
  }
  if (list.items.length === 0) {
    group.append(statusItem(muted(texts.empty)));
  }
  for (const child of list.items) {
    group.append(render(child));
  }
  if (list.moreError !== null) {
    group.append(
      statusItem(
        h('div', {
          className: `${CSS}-nodeError`,
          testId: 'tree-error',
          attrs: { role: 'alert' },
          text: list.moreError
        })
      )
    );
  }
  if (list.next !== null) {
    const shown = list.items.length;
    const label =
      list.total !== null
        ? `${texts.moreLabel} (${shown} of ${list.total})`
        : texts.moreLabel;
    const button = h('button', {
      className: `${CSS}-more`,
      testId: texts.moreTestId,
      text: list.loadingMore ? 'Loading…' : label,
      attrs: { type: 'button', 'data-key': texts.moreKey }
    });
    button.disabled = list.loadingMore;
    button.addEventListener('click', event => {
      event.stopPropagation();
      texts.more();
    });
    group.append(statusItem(button));
  }
}

export interface ITreeItemOptions {
  level: number;
  key: string;
  /** null: a leaf. */
  expanded: boolean | null;
  testId: string;
  node: string;
  name: string;
  row: HTMLElement[];
  rowTestId: string;
  title: string;
}

/** One `role="treeitem"` with its row; `expanded: null` makes a leaf. */
export function treeItem(options: ITreeItemOptions): HTMLLIElement {
  const attrs: Record<string, string> = {
    role: 'treeitem',
    'aria-level': String(options.level),
    'aria-label': options.title,
    tabindex: '-1',
    'data-key': options.key,
    'data-node': options.node,
    'data-name': options.name
  };
  if (options.expanded !== null) {
    attrs['aria-expanded'] = String(options.expanded);
  }
  const row = h(
    'div',
    {
      className: `${CSS}-row`,
      testId: options.rowTestId,
      attrs: { style: `--jp-analytics-tree-level: ${options.level - 1}` }
    },
    ...options.row
  );
  return h(
    'li',
    {
      className: `${CSS}-item jp-mod-${options.node}`,
      testId: options.testId,
      attrs
    },
    row
  );
}

export function childGroup(): HTMLUListElement {
  return h('ul', { className: `${CSS}-group`, attrs: { role: 'group' } });
}

export function statusItem(content: HTMLElement): HTMLLIElement {
  return h(
    'li',
    { className: `${CSS}-status`, attrs: { role: 'none' } },
    content
  );
}

export function loadingLine(text: string): HTMLElement {
  return h(
    'div',
    {
      className: 'jp-Analytics-loading',
      testId: 'tree-loading',
      attrs: { role: 'status' }
    },
    h('span', {
      className: 'jp-Analytics-spinner',
      attrs: { 'aria-hidden': 'true' }
    }),
    h('span', { text })
  );
}

export function errorItem(message: string, retry: () => void): HTMLLIElement {
  const button = h('button', {
    className: `${CSS}-retry`,
    testId: 'tree-retry',
    text: 'Retry',
    attrs: { type: 'button' }
  });
  button.addEventListener('click', event => {
    event.stopPropagation();
    retry();
  });
  return statusItem(
    h(
      'div',
      { className: `${CSS}-nodeError`, attrs: { role: 'alert' } },
      h('span', { testId: 'tree-error', text: message }),
      button
    )
  );
}

export function caret(): HTMLElement {
  const span = caretRightIcon.element({
    tag: 'span',
    className: `${CSS}-caret`
  });
  span.setAttribute('aria-hidden', 'true');
  return span;
}

export function muted(text: string, testId?: string): HTMLElement {
  return h('span', { className: `${CSS}-muted`, testId, text });
}

/** An icon button in a row; its click does not also toggle the row. */
export function action(
  icon: LabIcon,
  label: string,
  testId: string,
  onClick: () => void
): HTMLButtonElement {
  const button = h(
    'button',
    {
      className: `${CSS}-action`,
      testId,
      attrs: { type: 'button', title: label, 'aria-label': label }
    },
    icon.element({ tag: 'span' })
  );
  button.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return button;
}
