/**
 * DOM of the Queries section's lists, built from data and callbacks only (no
 * fetching, no state), so Jest can render them from fixtures. Every name,
 * tag and SQL text is set as text.
 */
import {
  deleteIcon,
  downloadIcon,
  editIcon,
  ellipsesIcon,
  notebookIcon,
  shareIcon,
  type LabIcon
} from '@jupyterlab/ui-components';

import type {
  IDatasourceChoice,
  IHistoryItem,
  IQueryTemplate,
  ISavedQuery
} from '../../api/queries';
import { h } from '../../ui/dom';
import { formatDuration, formatWhen, sqlSnippet } from './model';
import { templateActions } from './templates';

export const CSS = 'jp-AnalyticsQueries';

/** What a saved query row lets the user do. */
export interface IQueryRowHandlers {
  toggleFavorite(query: ISavedQuery, star: HTMLButtonElement): void;
  open(query: ISavedQuery): void;
  /** `anchor` is the button the menu opens under. */
  exportMenu(query: ISavedQuery, anchor: HTMLElement): void;
  share(query: ISavedQuery): void;
  moreMenu(query: ISavedQuery, anchor: HTMLElement): void;
  filterTag(tag: string): void;
}

export interface IQueryRowState {
  favorite: boolean;
  favoritePending: boolean;
  datasourceName: string | null;
}

/** A small button with an icon and an accessible name. */
export function iconButton(
  icon: LabIcon,
  label: string,
  testId: string,
  onClick: (button: HTMLButtonElement) => void
): HTMLButtonElement {
  const button = h('button', {
    className: `${CSS}-iconButton`,
    testId,
    attrs: { type: 'button', title: label, 'aria-label': label }
  });
  button.append(icon.element({ tag: 'span', className: `${CSS}-icon` }));
  button.addEventListener('click', event => {
    event.stopPropagation();
    onClick(button);
  });
  return button;
}

/** The star: pressed when the server lists the query among the favorites. */
export function starButton(
  name: string,
  state: { favorite: boolean; pending: boolean },
  onClick: (button: HTMLButtonElement) => void
): HTMLButtonElement {
  const label = state.favorite ? `Unfavorite ${name}` : `Favorite ${name}`;
  const button = h('button', {
    className: `${CSS}-star${state.favorite ? ' jp-mod-active' : ''}`,
    testId: 'queries-star',
    text: state.favorite ? '★' : '☆',
    attrs: {
      type: 'button',
      title: state.favorite ? 'Remove from favorites' : 'Add to favorites',
      'aria-label': label,
      'aria-pressed': state.favorite ? 'true' : 'false'
    }
  });
  button.disabled = state.pending;
  button.addEventListener('click', event => {
    event.stopPropagation();
    onClick(button);
  });
  return button;
}

/** One saved query: star, name, datasource, tags, actions, a status line. */
export function queryRow(
  query: ISavedQuery,
  state: IQueryRowState,
  handlers: IQueryRowHandlers
): HTMLLIElement {
  const meta = h('div', { className: `${CSS}-meta` });
  meta.append(
    h('span', {
      className: `${CSS}-datasource${state.datasourceName === null ? ' jp-mod-missing' : ''}`,
      testId: 'queries-row-datasource',
      text:
        state.datasourceName ??
        (query.datasource_id ? 'unknown datasource' : 'no datasource'),
      attrs: { title: 'Datasource' }
    })
  );
  for (const tag of query.tags) {
    const chip = h('button', {
      className: `${CSS}-tag`,
      testId: 'queries-row-tag',
      text: tag,
      attrs: { type: 'button', title: `Show queries tagged ${tag}` }
    });
    chip.addEventListener('click', event => {
      event.stopPropagation();
      handlers.filterTag(tag);
    });
    meta.append(chip);
  }
  const actions = h(
    'div',
    { className: `${CSS}-actions` },
    iconButton(notebookIcon, 'Open in notebook', 'queries-open', () =>
      handlers.open(query)
    ),
    iconButton(downloadIcon, 'Export…', 'queries-export', button =>
      handlers.exportMenu(query, button)
    ),
    iconButton(shareIcon, 'Share…', 'queries-share', () =>
      handlers.share(query)
    ),
    iconButton(ellipsesIcon, 'More actions', 'queries-more', button =>
      handlers.moreMenu(query, button)
    )
  );
  const share = actions.querySelector<HTMLButtonElement>(
    '[data-testid="queries-share"]'
  )!;
  share.disabled = query.permission !== 'manage';
  if (share.disabled) {
    share.title = 'Sharing needs the manage permission on this query';
  }
  const row = h(
    'li',
    {
      className: `${CSS}-row`,
      testId: 'queries-row',
      attrs: { 'data-query-id': query.id, 'data-query-name': query.name }
    },
    starButton(
      query.name,
      { favorite: state.favorite, pending: state.favoritePending },
      button => handlers.toggleFavorite(query, button)
    ),
    h(
      'div',
      { className: `${CSS}-main` },
      h('div', {
        className: `${CSS}-name`,
        testId: 'queries-row-name',
        text: query.name,
        attrs: { title: query.description || query.name }
      }),
      h('div', { className: `${CSS}-line` }, meta, actions),
      h('div', {
        className: `${CSS}-status`,
        testId: 'queries-row-status',
        attrs: { 'aria-live': 'polite' }
      })
    )
  );
  return row;
}

/** What a template row lets the user do. */
export interface ITemplateRowHandlers {
  use(template: IQueryTemplate): void;
  edit(template: IQueryTemplate): void;
  remove(template: IQueryTemplate): void;
  share(template: IQueryTemplate): void;
}

/**
 * One template: "Use template", and Edit, Delete and Share only when the
 * level the server returned allows them (a template shared at `view` shows
 * none of the three).
 */
export function templateRow(
  template: IQueryTemplate,
  handlers: ITemplateRowHandlers
): HTMLLIElement {
  const allowed = templateActions(template.permission);
  const use = h('button', {
    className: `${CSS}-button`,
    testId: 'queries-template-use',
    text: 'Use template',
    attrs: { type: 'button' }
  });
  use.addEventListener('click', () => handlers.use(template));
  const actions = h(
    'div',
    { className: `${CSS}-actions ${CSS}-templateActions` },
    use
  );
  if (allowed.edit) {
    actions.append(
      iconButton(
        editIcon,
        `Edit ${template.name}`,
        'queries-template-edit',
        () => handlers.edit(template)
      )
    );
  }
  if (allowed.share) {
    actions.append(
      iconButton(
        shareIcon,
        `Share ${template.name}`,
        'queries-template-share',
        () => handlers.share(template)
      )
    );
  }
  if (allowed.remove) {
    actions.append(
      iconButton(
        deleteIcon,
        `Delete ${template.name}`,
        'queries-template-delete',
        () => handlers.remove(template)
      )
    );
  }
  const meta = h('div', { className: `${CSS}-meta` });
  const count = template.parameters.length;
  meta.append(
    h('span', { text: count === 1 ? '1 parameter' : `${count} parameters` }),
    ...(template.permission === 'manage'
      ? []
      : [
          h('span', {
            className: `${CSS}-level`,
            testId: 'queries-template-level',
            text: `${template.permission}${template.owner_name ? ` · ${template.owner_name}` : ''}`,
            attrs: { title: 'Your level on this template, and its owner' }
          })
        ]),
    ...template.tags.map(tag =>
      h('span', { className: `${CSS}-tag jp-mod-static`, text: tag })
    )
  );
  return h(
    'li',
    {
      className: `${CSS}-row`,
      testId: 'queries-template-row',
      attrs: {
        'data-template-id': template.id,
        'data-template-name': template.name,
        'data-permission': template.permission
      }
    },
    h(
      'div',
      { className: `${CSS}-main` },
      h('div', {
        className: `${CSS}-name`,
        testId: 'queries-template-name',
        text: template.name,
        attrs: { title: template.description || template.name }
      }),
      ...(template.description
        ? [
            h('div', {
              className: `${CSS}-description`,
              text: template.description
            })
          ]
        : []),
      meta,
      actions,
      h('div', {
        className: `${CSS}-status`,
        testId: 'queries-row-status',
        attrs: { 'aria-live': 'polite' }
      })
    )
  );
}

export interface IHistoryRowHandlers {
  open(item: IHistoryItem): void;
  save(item: IHistoryItem): void;
}

/** One run of the history: SQL snippet, datasource, status, duration, when. */
export function historyRow(
  item: IHistoryItem,
  datasources: ReadonlyMap<string, IDatasourceChoice>,
  handlers: IHistoryRowHandlers,
  now: Date = new Date()
): HTMLLIElement {
  const datasource =
    item.datasource_id === null
      ? 'deleted datasource'
      : (datasources.get(item.datasource_id)?.name ?? 'unknown datasource');
  const rows =
    item.rows === null ? '' : ` · ${item.rows.toLocaleString('en-US')} rows`;
  const open = iconButton(
    notebookIcon,
    'Open in notebook',
    'queries-history-open',
    () => handlers.open(item)
  );
  const save = h('button', {
    className: `${CSS}-button`,
    testId: 'queries-history-save',
    text: 'Save…',
    attrs: { type: 'button', title: 'Save this SQL as a query' }
  });
  save.addEventListener('click', () => handlers.save(item));
  save.disabled = item.datasource_id === null;
  return h(
    'li',
    {
      className: `${CSS}-row`,
      testId: 'queries-history-row',
      attrs: { 'data-run-id': item.id }
    },
    h(
      'div',
      { className: `${CSS}-main` },
      h('code', {
        className: `${CSS}-sql`,
        testId: 'queries-history-sql',
        text: sqlSnippet(item.sql),
        attrs: { title: item.sql }
      }),
      h(
        'div',
        { className: `${CSS}-meta` },
        h('span', { className: `${CSS}-datasource`, text: datasource }),
        h('span', {
          className: `${CSS}-state jp-mod-${stateClass(item.state)}`,
          testId: 'queries-history-state',
          text: `${item.state}${item.cached ? ' (cached)' : ''}${rows}`,
          attrs: item.error ? { title: item.error } : {}
        }),
        h('span', { text: formatDuration(item.elapsed_seconds) }),
        h('span', {
          text: formatWhen(item.created_at, now),
          attrs: { title: new Date(item.created_at).toLocaleString() }
        })
      )
    ),
    h('div', { className: `${CSS}-actions` }, open, save)
  );
}

/** The "Load more" button under a list that has more pages. */
export function loadMoreButton(
  onClick: (button: HTMLButtonElement) => void
): HTMLButtonElement {
  const button = h('button', {
    className: `${CSS}-button ${CSS}-loadMore`,
    testId: 'queries-load-more',
    text: 'Load more',
    attrs: { type: 'button' }
  });
  button.addEventListener('click', () => onClick(button));
  return button;
}

function stateClass(state: string): string {
  return ['succeeded', 'failed', 'cancelled', 'running', 'queued'].includes(
    state
  )
    ? state
    : 'other';
}
