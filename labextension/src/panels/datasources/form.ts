/**
 * The Add / Edit datasource dialog: a form whose Test button asks the server
 * to connect with what the form holds, and whose Save keeps the dialog (and
 * every value) open when the server refuses, showing the server's message.
 * The fields themselves are in `form-fields.ts`; this module is the flow.
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
import { CSS, DatasourceFields } from './form-fields';
import {
  type IDatasourceFormValues,
  createBody,
  emptyValues,
  patchBody,
  testBody,
  validate,
  valuesFromDatasource
} from './form-model';
import { testResultText } from './format';

/** The calls the form makes; `DatasourcesAPI` in the Lab, a fake in tests. */
export type DatasourceFormClient = Pick<
  DatasourcesAPI,
  'create' | 'update' | 'testConnection'
>;

/** The dialog's body: the form, the Test button and its result, errors. */
export class DatasourceFormBody extends Widget {
  constructor(
    private readonly _client: DatasourceFormClient,
    private readonly _saved: IDatasource | null
  ) {
    super();
    this.addClass(CSS);
    this.node.dataset.testid = 'datasource-form';
    const values = _saved ? valuesFromDatasource(_saved) : emptyValues();
    this._fields = new DatasourceFields(values, _saved);
    this._build();
  }

  /** What the form holds now. */
  values(): IDatasourceFormValues {
    return this._fields.values();
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

  private _build(): void {
    this._error = h('div', {
      className: `${CSS}-error`,
      testId: 'datasource-form-error',
      attrs: { role: 'alert' }
    });
    this._error.hidden = true;

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
      this._fields.node,
      h(
        'div',
        { className: `${CSS}-testRow` },
        this._testButton,
        this._testResult
      ),
      this._error
    );
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

  private readonly _fields: DatasourceFields;
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
