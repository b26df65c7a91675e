/**
 * DOM of the Charts list: one row per chart (thumbnail, name, type and query,
 * action buttons). Built from data only; what the buttons do is passed in, so
 * Jest can build rows from fixtures. Names are set as text.
 */
import {
  addIcon,
  deleteIcon,
  downloadIcon,
  editIcon,
  type LabIcon,
  notebookIcon,
  shareIcon
} from '@jupyterlab/ui-components';

import type { IChart } from '../../api/charts';
import { h } from '../../ui/dom';
import { chartTypeLabel, queryLabel } from './model';
import { thumbnailCell } from './thumbnails';

export const CSS = 'jp-AnalyticsCharts';

/** What a row's buttons do; `anchor` is the button (menus open at it). */
export interface IRowActions {
  open(chart: IChart): void;
  exportMenu(chart: IChart, anchor: HTMLElement): void;
  share(chart: IChart): void;
  rename(chart: IChart): void;
  remove(chart: IChart): void;
  /** Put the chart on a dashboard (Add to dashboard…); no button without it. */
  addToDashboard?(chart: IChart): void;
}

function iconButton(
  icon: LabIcon,
  label: string,
  testId: string,
  onClick: (button: HTMLButtonElement) => void,
  disabledReason?: string
): HTMLButtonElement {
  const button = h('button', {
    className: `${CSS}-action jp-Button jp-mod-minimal`,
    testId,
    attrs: {
      type: 'button',
      title: disabledReason ?? label,
      'aria-label': label
    }
  });
  button.append(icon.element({ tag: 'span', className: `${CSS}-actionIcon` }));
  if (disabledReason) {
    button.disabled = true;
  }
  button.addEventListener('click', event => {
    event.stopPropagation();
    onClick(button);
  });
  return button;
}

/** One chart row; its thumbnail cell is `row.querySelector('[data-testid=chart-thumbnail]')`. */
export function chartRow(
  chart: IChart,
  queryNames: ReadonlyMap<string, string | null>,
  actions: IRowActions
): HTMLLIElement {
  const type = chartTypeLabel(chart.spec.type);
  const query = queryLabel(chart.query_id, queryNames);
  const canEdit = chart.permission === 'edit' || chart.permission === 'manage';
  const canManage = chart.permission === 'manage';
  const row = h(
    'li',
    {
      className: `${CSS}-row`,
      testId: 'chart-row',
      attrs: {
        'data-chart-id': chart.id,
        tabindex: '0',
        'aria-label': chart.name
      }
    },
    thumbnailCell(chart),
    h(
      'div',
      { className: `${CSS}-info` },
      h('div', {
        className: `${CSS}-name`,
        testId: 'chart-name',
        text: chart.name,
        attrs: { title: chart.description || chart.name }
      }),
      h(
        'div',
        { className: `${CSS}-meta`, testId: 'chart-meta' },
        h('span', {
          className: `${CSS}-type`,
          testId: 'chart-type',
          text: type
        }),
        h('span', {
          className: `${CSS}-sep`,
          text: ' · ',
          attrs: { 'aria-hidden': 'true' }
        }),
        h('span', {
          className: `${CSS}-query`,
          testId: 'chart-query',
          text: query,
          attrs: { title: `Query: ${query}` }
        })
      )
    ),
    h(
      'div',
      {
        className: `${CSS}-actions`,
        attrs: { role: 'group', 'aria-label': 'Chart actions' }
      },
      iconButton(notebookIcon, 'Open in notebook', 'chart-open', () =>
        actions.open(chart)
      ),
      iconButton(downloadIcon, 'Export…', 'chart-export', button =>
        actions.exportMenu(chart, button)
      ),
      ...(actions.addToDashboard
        ? [
            iconButton(
              addIcon,
              'Add to dashboard…',
              'chart-add-to-dashboard',
              () => actions.addToDashboard?.(chart)
            )
          ]
        : []),
      iconButton(
        shareIcon,
        'Share…',
        'chart-share',
        () => actions.share(chart),
        canManage
          ? undefined
          : 'Sharing needs the manage permission on this chart'
      ),
      iconButton(
        editIcon,
        'Rename…',
        'chart-rename',
        () => actions.rename(chart),
        canEdit ? undefined : 'Renaming needs the edit permission on this chart'
      ),
      iconButton(
        deleteIcon,
        'Delete…',
        'chart-delete',
        () => actions.remove(chart),
        canManage
          ? undefined
          : 'Deleting needs the manage permission on this chart'
      )
    )
  );
  return row;
}
