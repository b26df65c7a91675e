/**
 * A table's first rows in a main-area tab: column names and types, the rows
 * as text, and a note when the server cut them off. One tab per datasource
 * and table (the id says which), so opening it again activates that tab.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import {
  ToolbarButton,
  refreshIcon,
  tableRowsIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { DatasourcesAPI, IPreviewResult } from '../../api/datasources';
import { errorMessage } from '../../api/request';
import { h } from '../../ui/dom';
import { errorView, loadingView } from '../../ui/status';
import { cellText } from './format';

const CSS = 'jp-AnalyticsPreview';

export interface IPreviewTarget {
  datasourceId: string;
  datasourceName: string;
  schema: string | null;
  table: string;
}

/** The tab id of a preview: stable per datasource, schema and table. */
export function previewId(target: IPreviewTarget): string {
  const part = (text: string | null): string => encodeURIComponent(text ?? '');
  return `analytics-ext-preview-${target.datasourceId}-${part(target.schema)}-${part(
    target.table
  )}`;
}

/** The table the server answered, built as text (names and values alike). */
export function renderPreviewTable(result: IPreviewResult): HTMLElement {
  const head = h(
    'tr',
    {},
    ...result.columns.map(column =>
      h(
        'th',
        {
          testId: 'preview-column',
          attrs: { scope: 'col', title: column.type }
        },
        h('span', { className: `${CSS}-columnName`, text: column.name }),
        h('span', { className: `${CSS}-columnType`, text: column.type })
      )
    )
  );
  const body = h(
    'tbody',
    {},
    ...result.rows.map(row =>
      h(
        'tr',
        { testId: 'preview-row' },
        ...row.map(value =>
          h('td', {
            className: value === null ? `${CSS}-null` : undefined,
            text: cellText(value)
          })
        )
      )
    )
  );
  return h(
    'table',
    { className: `${CSS}-table`, testId: 'preview-table' },
    h('thead', {}, head),
    body
  );
}

/** Summary line: "12 rows · 5 columns", plus the truncation note. */
export function previewSummary(result: IPreviewResult): string {
  const rows = result.rows.length;
  const columns = result.columns.length;
  return `${rows} row${rows === 1 ? '' : 's'} · ${columns} column${columns === 1 ? '' : 's'}`;
}

export class PreviewContent extends Widget {
  constructor(
    private readonly _client: Pick<DatasourcesAPI, 'preview'>,
    readonly target: IPreviewTarget
  ) {
    super();
    this.addClass(CSS);
    this.node.dataset.testid = 'datasource-preview';
    this.node.tabIndex = 0;
  }

  /** Fetch the rows again; latest request wins. */
  async load(): Promise<void> {
    const request = ++this._request;
    this.node.setAttribute('aria-busy', 'true');
    if (!this._shown) {
      this.node.replaceChildren(loadingView('Loading rows…'));
    }
    try {
      const { datasourceId, table, schema } = this.target;
      const result = await this._client.preview(datasourceId, table, schema);
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._shown = true;
      this.node.replaceChildren(this._render(result));
    } catch (error) {
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._shown = false;
      this.node.replaceChildren(
        errorView(errorMessage(error), `Could not preview ${this._label()}`)
      );
    } finally {
      if (request === this._request && !this.isDisposed) {
        this.node.setAttribute('aria-busy', 'false');
      }
    }
  }

  private _label(): string {
    const { schema, table } = this.target;
    return schema ? `${schema}.${table}` : table;
  }

  private _render(result: IPreviewResult): HTMLElement {
    const header = h(
      'div',
      { className: `${CSS}-header` },
      h('span', { className: `${CSS}-title`, text: this._label() }),
      h('span', {
        className: `${CSS}-source`,
        text: this.target.datasourceName
      }),
      h('span', {
        className: `${CSS}-summary`,
        testId: 'preview-summary',
        text: previewSummary(result)
      })
    );
    const children: HTMLElement[] = [header];
    if (result.truncated) {
      children.push(
        h('div', {
          className: `${CSS}-truncated`,
          testId: 'preview-truncated',
          attrs: { role: 'note' },
          text: `Showing the first ${result.rows.length} rows; the table has more.`
        })
      );
    }
    if (result.rows.length === 0) {
      children.push(
        h('div', {
          className: `${CSS}-empty`,
          testId: 'preview-empty',
          text: 'The table is empty.'
        })
      );
    }
    children.push(
      h('div', { className: `${CSS}-scroll` }, renderPreviewTable(result))
    );
    return h('div', { className: `${CSS}-content` }, ...children);
  }

  private _request = 0;
  private _shown = false;
}

/** A main-area tab previewing `target`; not yet loaded (call `content.load()`). */
export function createPreviewWidget(
  client: Pick<DatasourcesAPI, 'preview'>,
  target: IPreviewTarget
): MainAreaWidget<PreviewContent> {
  const content = new PreviewContent(client, target);
  const widget = new MainAreaWidget({ content });
  widget.id = previewId(target);
  widget.title.label = `${target.table} · ${target.datasourceName}`;
  widget.title.caption = `Preview of ${target.schema ? `${target.schema}.` : ''}${
    target.table
  } in ${target.datasourceName}`;
  widget.title.icon = tableRowsIcon;
  widget.title.closable = true;
  const reload = new ToolbarButton({
    icon: refreshIcon,
    tooltip: 'Load the rows again',
    onClick: () => void content.load()
  });
  reload.node.dataset.testid = 'preview-reload';
  widget.toolbar.addItem('reload', reload);
  return widget;
}
