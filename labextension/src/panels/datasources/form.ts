/**
 * The Add / Edit datasource dialog: a form whose Test button asks the server
 * to connect with what the form holds, and whose Save keeps the dialog (and
 * every value) open when the server refuses, showing the server's message.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import type {
  DatasourcesAPI,
  IConnectionTestResult,
  IDatasource
} from '../../api/datasources';
import { errorMessage } from '../../api/request';
import { h } from '../../ui/dom';
import {
  KINDS,
  KIND_ORDER,
  type DatasourceKind,
  type IDatasourceFormValues,
  createBody,
  emptyValues,
  patchBody,
  testBody,
  validate,
  valuesFromDatasource
} from './form-model';
import { testResultText } from './format';

const CSS = 'jp-AnalyticsDatasourceForm';

/** The calls the form makes; `DatasourcesAPI` in the Lab, a fake in tests. */
export type DatasourceFormClient = Pick<
  DatasourcesAPI,
  'create' | 'update' | 'testConnection'
>;

type TextField = Exclude<keyof IDatasourceFormValues, 'kind' | 'readOnly'>;

let formCounter = 0;

/** The dialog's body: the form, the Test button and its result, errors. */
export class DatasourceFormBody extends Widget {
  constructor(
    private readonly _client: DatasourceFormClient,
    private readonly _saved: IDatasource | null
  ) {
    super();
    this.addClass(CSS);
    this.node.dataset.testid = 'datasource-form';
    this._uid = `jp-AnalyticsDatasourceForm-${++formCounter}`;
    const values = _saved ? valuesFromDatasource(_saved) : emptyValues();
    this._build(values);
    this._showKind(values.kind);
  }

  /** What the form holds now. */
  values(): IDatasourceFormValues {
    const text = (field: TextField): string => this._inputs[field]?.value ?? '';
    return {
      name: text('name'),
      kind: this._kind.value as DatasourceKind,
      url: text('url'),
      host: text('host'),
      port: text('port'),
      database: text('database'),
      path: text('path'),
      username: text('username'),
      password: text('password'),
      readOnly: this._readOnly.checked,
      rowLimit: text('rowLimit'),
      timeoutSeconds: text('timeoutSeconds'),
      cacheTtlSeconds: text('cacheTtlSeconds')
    };
  }

  /** The saved datasource, once Save succeeded (the dialog's value). */
  getValue(): IDatasource | null {
    return this._result;
  }

  /** Whether a request is under way (Save and Test are disabled meanwhile). */
  get pending(): boolean {
    return this._pending;
  }

  /**
   * Send the form: create, or patch what changed. Resolves with the saved
   * datasource, or null after showing why not (the values stay).
   */
  async save(): Promise<IDatasource | null> {
    if (this._pending) {
      return null;
    }
    const values = this.values();
    const problem = validate(values);
    if (problem !== null) {
      this._showError(problem);
      return null;
    }
    this._setPending(true);
    this._showError(null);
    try {
      let saved: IDatasource;
      if (this._saved === null) {
        saved = await this._client.create(createBody(values));
      } else {
        const body = patchBody(values, this._saved);
        saved =
          Object.keys(body).length === 0
            ? this._saved
            : await this._client.update(this._saved.id, body);
      }
      this._result = saved;
      return saved;
    } catch (error) {
      this._showError(errorMessage(error));
      return null;
    } finally {
      this._setPending(false);
    }
  }

  /** Ask the server to connect with the form's values; shows the outcome. */
  async test(): Promise<IConnectionTestResult | null> {
    if (this._pending) {
      return null;
    }
    const values = this.values();
    const problem = this._saved === null ? validateConnection(values) : null;
    if (problem !== null) {
      this._showTest(null, problem);
      return null;
    }
    this._setPending(true);
    this._testResult.replaceChildren(
      h('span', { text: 'Testing the connection…' })
    );
    this._testResult.className = `${CSS}-testResult`;
    try {
      const result = await this._client.testConnection(
        testBody(values, this._saved)
      );
      this._showTest(result, null);
      return result;
    } catch (error) {
      this._showTest(null, errorMessage(error));
      return null;
    } finally {
      this._setPending(false);
    }
  }

  /** Called with the pending state, so the dialog can disable its Save button. */
  onPendingChange: (pending: boolean) => void = () => undefined;

  private _build(values: IDatasourceFormValues): void {
    this._error = h('div', {
      className: `${CSS}-error`,
      testId: 'datasource-form-error',
      attrs: { role: 'alert' }
    });
    this._error.hidden = true;

    this._kind = h('select', {
      className: 'jp-mod-styled',
      testId: 'datasource-form-kind',
      attrs: { id: `${this._uid}-kind` }
    });
    for (const kind of KIND_ORDER) {
      const option = h('option', {
        text: KINDS[kind].label,
        attrs: { value: kind }
      });
      this._kind.append(option);
    }
    this._kind.value = values.kind;
    this._kind.addEventListener('change', () =>
      this._showKind(this._kind.value as DatasourceKind)
    );

    const saved = this._saved;
    const keepPassword = saved?.has_password
      ? 'saved; leave empty to keep it'
      : '';

    const form = h(
      'form',
      { className: `${CSS}-fields`, attrs: { novalidate: '' } },
      this._field('name', 'Name', values.name, { required: true }),
      h(
        'div',
        { className: `${CSS}-field` },
        h('label', { text: 'Kind', attrs: { for: `${this._uid}-kind` } }),
        this._kind
      ),
      this._group(
        'url',
        this._field('url', 'SQLAlchemy URL', values.url, {
          placeholder: 'postgresql+psycopg://user@host:5432/db',
          spellcheck: 'false'
        }),
        this._field('password', 'Password', '', {
          type: 'password',
          autocomplete: 'new-password',
          placeholder: keepPassword,
          group: 'url'
        })
      ),
      this._group(
        'server',
        this._field('host', 'Host', values.host, { spellcheck: 'false' }),
        this._field('port', 'Port', values.port, { inputmode: 'numeric' }),
        this._field('database', 'Database', values.database, {
          spellcheck: 'false'
        }),
        this._field('username', 'User', values.username, {
          autocomplete: 'off',
          spellcheck: 'false'
        }),
        this._field('password', 'Password', '', {
          type: 'password',
          autocomplete: 'new-password',
          placeholder: keepPassword,
          group: 'server'
        })
      ),
      this._group(
        'file',
        this._field(
          'path',
          'Database file (absolute path on the server)',
          values.path,
          {
            placeholder: '/data/retail.duckdb',
            spellcheck: 'false'
          }
        )
      ),
      this._options(values)
    );
    // Enter submits through the dialog's default button, never the page.
    form.addEventListener('submit', event => event.preventDefault());

    this._testButton = h('button', {
      className: `jp-Button jp-mod-styled ${CSS}-test`,
      testId: 'datasource-form-test',
      text: 'Test connection',
      attrs: { type: 'button' }
    });
    this._testButton.addEventListener('click', () => void this.test());
    this._testResult = h('div', {
      className: `${CSS}-testResult`,
      testId: 'datasource-form-test-result',
      attrs: { role: 'status', 'aria-live': 'polite' }
    });

    this.node.append(
      form,
      h(
        'div',
        { className: `${CSS}-testRow` },
        this._testButton,
        this._testResult
      ),
      this._error
    );
  }

  private _options(values: IDatasourceFormValues): HTMLElement {
    this._readOnly = h('input', {
      testId: 'datasource-form-read-only',
      attrs: { type: 'checkbox', id: `${this._uid}-readOnly` }
    });
    this._readOnly.checked = values.readOnly;
    return h(
      'details',
      { className: `${CSS}-options` },
      h('summary', { text: 'Query options' }),
      h(
        'div',
        { className: `${CSS}-check` },
        this._readOnly,
        h('label', {
          text: 'Read-only (refuse statements that write)',
          attrs: { for: `${this._uid}-readOnly` }
        })
      ),
      this._field('rowLimit', 'Row limit (empty: none)', values.rowLimit, {
        inputmode: 'numeric'
      }),
      this._field(
        'timeoutSeconds',
        'Query timeout (seconds)',
        values.timeoutSeconds,
        {
          inputmode: 'decimal'
        }
      ),
      this._field(
        'cacheTtlSeconds',
        'Cache results for (seconds)',
        values.cacheTtlSeconds,
        {
          inputmode: 'decimal'
        }
      )
    );
  }

  private _field(
    field: TextField,
    label: string,
    value: string,
    attrs: Record<string, string | boolean> & { group?: string } = {}
  ): HTMLElement {
    const { group, required, ...rest } = attrs;
    const id = `${this._uid}-${field}${group ? `-${group}` : ''}`;
    const input = h('input', {
      className: 'jp-mod-styled',
      testId: `datasource-form-${group === 'url' ? 'url-' : ''}${kebab(field)}`,
      attrs: { id, type: 'text', ...stringAttrs(rest) }
    });
    if (required) {
      input.required = true;
      input.setAttribute('aria-required', 'true');
    }
    input.value = value;
    if (group !== undefined) {
      // Two password fields (URL and server kinds): each kind its own.
      this._grouped.set(`${field}:${group}`, input);
    } else {
      this._inputs[field] = input;
    }
    return h(
      'div',
      { className: `${CSS}-field` },
      h('label', { text: label, attrs: { for: id } }),
      input
    );
  }

  private _group(shape: string, ...children: HTMLElement[]): HTMLElement {
    const group = h(
      'div',
      {
        className: `${CSS}-group`,
        attrs: { 'data-shape': shape }
      },
      ...children
    );
    this._groups.set(shape, group);
    return group;
  }

  /** Show the fields of `kind`'s shape and point `password` at its own input. */
  private _showKind(kind: DatasourceKind): void {
    const shape = KINDS[kind].shape;
    for (const [name, group] of this._groups) {
      group.hidden = name !== shape;
    }
    const password = this._grouped.get(`password:${shape}`);
    if (password !== undefined) {
      this._inputs.password = password;
    } else {
      delete this._inputs.password;
    }
    const port = this._inputs.port;
    const defaultPort = KINDS[kind].defaultPort;
    if (port !== undefined) {
      port.placeholder = defaultPort ? String(defaultPort) : '';
    }
  }

  private _showError(message: string | null): void {
    this._error.hidden = message === null;
    this._error.textContent = message ?? '';
  }

  private _showTest(
    result: IConnectionTestResult | null,
    error: string | null
  ): void {
    const ok = result?.ok === true;
    this._testResult.className = `${CSS}-testResult ${
      ok ? 'jp-mod-ok' : 'jp-mod-failed'
    }`;
    this._testResult.dataset.ok = String(ok);
    this._testResult.textContent =
      result !== null ? testResultText(result) : (error ?? '');
  }

  private _setPending(pending: boolean): void {
    this._pending = pending;
    this._testButton.disabled = pending;
    this.node.setAttribute('aria-busy', String(pending));
    this.onPendingChange(pending);
  }

  private readonly _uid: string;
  private readonly _inputs: Partial<Record<TextField, HTMLInputElement>> = {};
  private readonly _grouped = new Map<string, HTMLInputElement>();
  private readonly _groups = new Map<string, HTMLElement>();
  private _kind!: HTMLSelectElement;
  private _readOnly!: HTMLInputElement;
  private _testButton!: HTMLButtonElement;
  private _testResult!: HTMLDivElement;
  private _error!: HTMLDivElement;
  private _pending = false;
  private _result: IDatasource | null = null;
}

/** Test needs a connection, not a name: the name check is Save's. */
function validateConnection(values: IDatasourceFormValues): string | null {
  return validate({ ...values, name: values.name.trim() || 'unnamed' });
}

function kebab(text: string): string {
  return text.replace(/[A-Z]/g, letter => `-${letter.toLowerCase()}`);
}

function stringAttrs(
  attrs: Record<string, string | boolean>
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== false && value !== '') {
      out[key] = value === true ? '' : value;
    }
  }
  return out;
}

/**
 * JupyterLab's Dialog closes on any button. Here Save closes only when the
 * server accepted the form; otherwise the dialog stays with its values and
 * the server's message, and Save is disabled while a request is pending.
 */
class DatasourceDialog extends Dialog<IDatasource | null> {
  constructor(body: DatasourceFormBody, title: string) {
    super({
      title,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Save' })],
      focusNodeSelector: '[data-testid="datasource-form-name"]'
    });
    this._form = body;
    this.addClass('jp-AnalyticsDatasourceDialog');
    const accept = this.node.querySelector<HTMLButtonElement>('.jp-mod-accept');
    const reject = this.node.querySelector<HTMLButtonElement>('.jp-mod-reject');
    if (accept) {
      accept.dataset.testid = 'datasource-form-save';
    }
    if (reject) {
      reject.dataset.testid = 'datasource-form-cancel';
    }
    body.onPendingChange = pending => {
      if (accept) {
        accept.disabled = pending;
      }
    };
  }

  override resolve(index?: number): void {
    const target = index ?? 1;
    if (target !== 1) {
      super.resolve(target);
      return;
    }
    if (this._form.pending) {
      return;
    }
    void this._form.save().then(saved => {
      if (saved !== null && !this.isDisposed) {
        super.resolve(1);
      }
    });
  }

  private readonly _form: DatasourceFormBody;
}

/**
 * Open the Add (no `saved`) or Edit dialog; resolves with the saved
 * datasource, or null when the user cancelled.
 */
export async function openDatasourceForm(
  client: DatasourceFormClient,
  saved: IDatasource | null = null
): Promise<IDatasource | null> {
  const body = new DatasourceFormBody(client, saved);
  const title = saved ? `Edit “${saved.name}”` : 'Add Datasource';
  const dialog = new DatasourceDialog(body, title);
  try {
    const result = await dialog.launch();
    return result.button.accept ? body.getValue() : null;
  } finally {
    dialog.dispose();
  }
}
