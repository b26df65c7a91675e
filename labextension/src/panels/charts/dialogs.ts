/**
 * The Charts section's dialogs: rename, delete, apply a template. Each runs
 * its server call when the accept button is pressed and stays open until it
 * succeeds: while pending the buttons are disabled (no double submit), and a
 * failure shows the server's message in the dialog, the form as the user left
 * it.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../../api';
import type {
  IChart,
  IChartTemplate,
  IQueryRef,
  ITemplateApply
} from '../../api/charts';
import { h } from '../../ui/dom';
import { MAX_NAME, applyRequest, checkName } from './model';

const CSS = 'jp-AnalyticsCharts';

/** A dialog body that can show the outcome of the last submit. */
abstract class FormBody<T> extends Widget implements Dialog.IBodyWidget<T> {
  constructor() {
    super({ node: h('div', { className: `${CSS}-dialogBody` }) });
    this.error = h('div', {
      className: `${CSS}-dialogError`,
      testId: 'charts-dialog-error',
      attrs: { role: 'alert' }
    });
    this.error.hidden = true;
  }

  /** Put the form's fields in, then the error line. */
  protected fill(...children: Node[]): void {
    this.node.append(...children, this.error);
  }

  showError(message: string | null): void {
    this.error.textContent = message ?? '';
    this.error.hidden = message === null;
  }

  abstract getValue(): T;

  readonly error: HTMLDivElement;
}

/** A labelled field. */
function field(
  label: string,
  control: HTMLElement,
  hint?: string
): HTMLElement {
  return h(
    'label',
    { className: `${CSS}-field` },
    h('span', { className: `${CSS}-fieldLabel`, text: label }),
    control,
    ...(hint ? [h('span', { className: `${CSS}-fieldHint`, text: hint })] : [])
  );
}

function textInput(
  testId: string,
  value = '',
  placeholder = ''
): HTMLInputElement {
  const input = h('input', {
    className: 'jp-mod-styled',
    testId,
    attrs: { type: 'text', maxlength: String(MAX_NAME), placeholder }
  });
  input.value = value;
  return input;
}

interface ISubmitOptions<T> {
  title: string;
  body: FormBody<T>;
  accept: string;
  warn?: boolean;
  /** The server call; throwing keeps the dialog open with the message. */
  submit: (value: T) => Promise<void>;
  /** A check before anything is sent; a message keeps the dialog open. */
  check?: (value: T) => string | null;
  focus?: string;
}

class SubmitDialog<T> extends Dialog<T> {
  constructor(private readonly _options: ISubmitOptions<T>) {
    super({
      title: _options.title,
      body: _options.body,
      buttons: [
        Dialog.cancelButton(),
        _options.warn
          ? Dialog.warnButton({ label: _options.accept })
          : Dialog.okButton({ label: _options.accept })
      ],
      defaultButton: 1,
      focusNodeSelector: _options.focus
    });
    this.addClass(`${CSS}-dialog`);
  }

  override resolve(index?: number): void {
    if (this._pending) {
      return;
    }
    if ((index ?? 1) !== 1) {
      super.resolve(index);
      return;
    }
    const body = this._options.body;
    const value = body.getValue();
    const problem = this._options.check?.(value) ?? null;
    body.showError(problem);
    if (problem !== null) {
      return;
    }
    this._setPending(true);
    this._options.submit(value).then(
      () => {
        this._setPending(false);
        super.resolve(1);
      },
      (error: unknown) => {
        this._setPending(false);
        body.showError(errorMessage(error));
      }
    );
  }

  override reject(): void {
    if (!this._pending) {
      super.reject();
    }
  }

  private _setPending(pending: boolean): void {
    this._pending = pending;
    this.toggleClass('jp-mod-busy', pending);
    this.node.setAttribute('aria-busy', String(pending));
    for (const button of this.node.querySelectorAll<HTMLButtonElement>(
      '.jp-Dialog-footer button'
    )) {
      button.disabled = pending;
    }
  }

  private _pending = false;
}

async function runSubmitDialog<T>(
  options: ISubmitOptions<T>
): Promise<boolean> {
  const dialog = new SubmitDialog<T>(options);
  try {
    const result = await dialog.launch();
    return result.button.accept;
  } finally {
    dialog.dispose();
  }
}

class NameBody extends FormBody<string> {
  constructor(value: string) {
    super();
    this.input = textInput('charts-name-input', value);
    this.fill(field('Name', this.input));
  }

  getValue(): string {
    return this.input.value;
  }

  readonly input: HTMLInputElement;
}

/** Ask for a new name and save it; true when renamed. */
export function renameChartDialog(
  chart: IChart,
  rename: (name: string) => Promise<void>
): Promise<boolean> {
  return runSubmitDialog({
    title: 'Rename chart',
    body: new NameBody(chart.name),
    accept: 'Rename',
    focus: 'input',
    check: name =>
      checkName(name) ??
      (name.trim() === chart.name ? 'That is its name already.' : null),
    submit: name => rename(name.trim())
  });
}

class ConfirmBody extends FormBody<null> {
  constructor(...children: Node[]) {
    super();
    this.fill(...children);
  }

  getValue(): null {
    return null;
  }
}

/** Confirm and delete; true when deleted. */
export function deleteChartDialog(
  chart: IChart,
  remove: () => Promise<void>
): Promise<boolean> {
  return runSubmitDialog({
    title: 'Delete chart',
    body: new ConfirmBody(
      h(
        'p',
        {},
        document.createTextNode('Delete the chart “'),
        h('strong', { text: chart.name }),
        document.createTextNode(
          '”? Dashboards showing it lose that tile. This cannot be undone.'
        )
      )
    ),
    accept: 'Delete',
    warn: true,
    submit: () => remove()
  });
}

/** What the apply dialog needs from the server. */
export interface ITemplateSource {
  templates(): Promise<IChartTemplate[]>;
  findQueries(text: string): Promise<IQueryRef[]>;
}

interface IApplyForm {
  templateId: string;
  queryId: string;
  name: string;
  bindings: Record<string, string>;
}

/** Template, query, name and one column per template role. */
export class ApplyTemplateBody extends FormBody<IApplyForm> {
  constructor(source: ITemplateSource, preset: { queryId?: string } = {}) {
    super();
    this._source = source;
    this._preset = preset;
    this.template = h('select', {
      className: 'jp-mod-styled',
      testId: 'charts-template-select'
    });
    this.querySearch = textInput(
      'charts-template-query-search',
      '',
      'Search queries…'
    );
    this.querySearch.setAttribute('aria-label', 'Search saved queries');
    this.query = h('select', {
      className: 'jp-mod-styled',
      testId: 'charts-template-query-select'
    });
    this.name = textInput('charts-template-name');
    this.roles = h('div', {
      className: `${CSS}-roles`,
      testId: 'charts-template-roles'
    });
    this.description = h('p', { className: `${CSS}-fieldHint` });
    this.fill(
      field('Template', this.template),
      this.description,
      h(
        'div',
        { className: `${CSS}-field` },
        h('span', { className: `${CSS}-fieldLabel`, text: 'Query' }),
        this.querySearch,
        this.query
      ),
      field('Chart name', this.name),
      this.roles
    );
    this.template.addEventListener('change', () => this._showRoles());
    this.name.addEventListener('input', () => {
      this._nameEdited = true;
    });
    this.querySearch.addEventListener('input', () => {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = window.setTimeout(
        () => void this._loadQueries(),
        250
      );
    });
  }

  /** Load templates and queries; a failure shows in the dialog. */
  async load(): Promise<void> {
    try {
      const [templates] = await Promise.all([
        this._source.templates(),
        this._loadQueries()
      ]);
      this._templates = templates;
      this.template.replaceChildren(
        ...templates.map(template =>
          h('option', { text: template.name, attrs: { value: template.id } })
        )
      );
      if (templates.length === 0) {
        this.showError(
          'There are no chart templates yet: save one from a chart (POST api/chart/templates with from_chart_id) or ask a colleague to share theirs.'
        );
      }
      this._showRoles();
    } catch (error) {
      this.showError(errorMessage(error));
    }
  }

  getValue(): IApplyForm {
    const bindings: Record<string, string> = {};
    for (const input of this.roles.querySelectorAll<HTMLInputElement>(
      'input'
    )) {
      bindings[input.dataset.channel ?? ''] = input.value;
    }
    return {
      templateId: this.template.value,
      queryId: this.query.value,
      name: this.name.value,
      bindings
    };
  }

  /** Problems the server would refuse anyway, said before sending. */
  check(form: IApplyForm): string | null {
    if (!form.templateId) {
      return 'Choose a template.';
    }
    if (!form.queryId) {
      return 'Choose the saved query the chart draws.';
    }
    return checkName(form.name);
  }

  private async _loadQueries(): Promise<void> {
    const text = this.querySearch.value;
    const request = ++this._queryRequest;
    try {
      const queries = await this._source.findQueries(text);
      if (request !== this._queryRequest) {
        return;
      }
      const chosen = this.query.value || this._preset.queryId || '';
      this.query.replaceChildren(
        ...queries.map(query =>
          h('option', { text: query.name, attrs: { value: query.id } })
        )
      );
      if (queries.some(query => query.id === chosen)) {
        this.query.value = chosen;
      }
      if (queries.length === 0) {
        this.query.append(
          h('option', {
            text: text ? 'No saved query matches' : 'No saved queries yet',
            attrs: { value: '', disabled: '' }
          })
        );
      }
    } catch (error) {
      if (request === this._queryRequest) {
        this.showError(errorMessage(error));
      }
    }
  }

  private _showRoles(): void {
    const template = this._templates.find(t => t.id === this.template.value);
    this.description.textContent = template?.description ?? '';
    this.description.hidden = !template?.description;
    if (template && !this._nameEdited) {
      this.name.value = template.name;
    }
    this.roles.replaceChildren(
      ...(template?.roles ?? []).map(role => {
        const input = textInput(
          `charts-template-binding-${role.channel}`,
          '',
          role.role
        );
        input.dataset.channel = role.channel;
        const type = role.type ? ` (${role.type})` : '';
        return field(
          `${role.channel} column${type}`,
          input,
          `Blank: the column named “${role.role}”.`
        );
      })
    );
  }

  readonly template: HTMLSelectElement;
  readonly querySearch: HTMLInputElement;
  readonly query: HTMLSelectElement;
  readonly name: HTMLInputElement;
  readonly roles: HTMLDivElement;
  readonly description: HTMLParagraphElement;
  private readonly _source: ITemplateSource;
  private readonly _preset: { queryId?: string };
  private _templates: IChartTemplate[] = [];
  private _queryRequest = 0;
  private _searchTimer = 0;
  private _nameEdited = false;
}

/** Pick a template, a query and columns; apply it. Resolves to the new chart, or null. */
export async function applyTemplateDialog(
  source: ITemplateSource,
  apply: (templateId: string, body: ITemplateApply) => Promise<IChart>,
  preset: { queryId?: string } = {}
): Promise<IChart | null> {
  const body = new ApplyTemplateBody(source, preset);
  void body.load();
  let created: IChart | null = null;
  await runSubmitDialog({
    title: 'Apply chart template',
    body,
    accept: 'Create chart',
    focus: 'select',
    check: form => body.check(form),
    submit: async form => {
      const request = applyRequest(form);
      created = await apply(request.templateId, request.body);
    }
  });
  return created;
}
