/**
 * A form generated from a JSON Schema: one labelled control per property, so
 * a setting added on the server (`schemas/settings.py`) appears here with no
 * frontend change. This module is the controller: it walks the schema
 * (`$ref`/`$defs`, optional `anyOf [T, null]`, nested objects as fieldsets),
 * picks each property's control (built in `settings-fields.ts`: a select for
 * an enum or for a property naming a choice list with `x-choices`, read-only
 * text for `readOnly`), and saves. Save sends only what changed; problems
 * (the form's own checks, or the server's 4xx, placed next to the field it
 * names) stay in the form.
 */
import { errorMessage } from '../../api';
import type { IJSONSchema, JSONObject } from '../../api/account';
import { h } from '../../ui/dom';
import {
  diffSettings,
  fieldProblems,
  humanize,
  resolveSchema,
  schemaType
} from './schema';
import {
  type ChoiceProviders,
  type LoadedChoices,
  choicesName,
  loadChoices
} from './settings-choices';
import {
  CSS,
  type IField,
  type ILeafSpec,
  checkboxField,
  enumChoices,
  inputField,
  jsonField,
  multiSelectField,
  readOnlyField,
  selectField
} from './settings-fields';

export interface ISettingsFormOptions {
  /** Prefix of element ids, unique in the document. */
  idPrefix?: string;
  /** Send the PATCH body; resolves with the server's new document. */
  save(changes: JSONObject): Promise<JSONObject>;
  /** Called after a save the server accepted. */
  saved?(document: JSONObject): void;
}

export class SettingsForm {
  /**
   * Ask the providers for the choice lists the schema names (`x-choices`),
   * then build the form. A property whose list has no provider, or whose
   * provider failed, keeps its plain field (the failure is said under it).
   */
  static async create(
    schema: IJSONSchema,
    values: JSONObject,
    options: ISettingsFormOptions & { choices?: ChoiceProviders }
  ): Promise<SettingsForm> {
    const { choices, ...formOptions } = options;
    const lists = await loadChoices(schema, choices ?? {});
    return new SettingsForm(schema, values, formOptions, lists);
  }

  readonly node: HTMLFormElement;

  /** `choices`: the lists `loadChoices` found (none: `x-choices` fields stay plain). */
  constructor(
    schema: IJSONSchema,
    values: JSONObject,
    private readonly options: ISettingsFormOptions,
    choices: LoadedChoices = new Map()
  ) {
    this._root = schema;
    this._choices = choices;
    this._idPrefix = options.idPrefix ?? 'analytics-settings';
    this._baseline = values;
    const { schema: resolved } = resolveSchema(schema, schema);
    this._top = this._objectField('', resolved, [], true);
    this._status = h('div', {
      className: `${CSS}-status`,
      testId: 'account-settings-status',
      attrs: { role: 'status', 'aria-live': 'polite' }
    });
    this._error = h('div', {
      className: `${CSS}-error jp-Analytics-error`,
      testId: 'account-settings-error',
      attrs: { role: 'alert' }
    });
    this._error.hidden = true;
    this._saveButton = h('button', {
      className: 'jp-mod-styled jp-mod-accept',
      testId: 'account-settings-save',
      text: 'Save settings',
      attrs: { type: 'submit' }
    });
    const resetButton = h('button', {
      className: 'jp-mod-styled jp-mod-reject',
      testId: 'account-settings-reset',
      text: 'Discard changes',
      attrs: { type: 'button' }
    });
    resetButton.addEventListener('click', () => this.reset(this._baseline));
    this.node = h(
      'form',
      {
        className: CSS,
        testId: 'account-settings-form',
        attrs: { novalidate: '', 'aria-label': 'Settings' }
      },
      this._top.node,
      this._error,
      h(
        'div',
        { className: `${CSS}-actions` },
        this._saveButton,
        resetButton,
        this._status
      )
    );
    this.node.addEventListener('submit', event => {
      event.preventDefault();
      void this.submit();
    });
    this.node.addEventListener('input', () => this._status.replaceChildren());
    this._top.write(values);
  }

  /** Every field's dotted path (`sql_formatting.indent`), in order. */
  get paths(): string[] {
    return [...this._fields.keys()];
  }

  /** The document the controls describe, or the problems that keep it from being one. */
  read(): { value: JSONObject } | { problems: Map<string, string> } {
    const problems = new Map<string, string>();
    for (const [path, field] of this._fields) {
      const reading = field.read();
      if ('problem' in reading) {
        problems.set(path, reading.problem);
      }
    }
    if (problems.size > 0) {
      return { problems };
    }
    const top = this._top.read();
    if ('problem' in top) {
      return { problems: new Map([['', top.problem]]) };
    }
    return { value: top.value as JSONObject };
  }

  /** The PATCH body: what differs from the last saved document. */
  changes(): JSONObject | null {
    const reading = this.read();
    return 'value' in reading
      ? diffSettings(this._baseline, reading.value)
      : null;
  }

  /** Show `values` and take them as the saved state. */
  reset(values: JSONObject): void {
    this._baseline = values;
    this._top.write(values);
    this._showProblems(new Map());
  }

  /** Check, send only the changes, show the outcome; the form stays as typed on failure. */
  async submit(): Promise<void> {
    if (this._pending) {
      return;
    }
    this._status.replaceChildren();
    const reading = this.read();
    if ('problems' in reading) {
      this._showProblems(reading.problems);
      return;
    }
    this._showProblems(new Map());
    const changes = diffSettings(this._baseline, reading.value);
    if (Object.keys(changes).length === 0) {
      this._status.textContent = 'Nothing to save.';
      return;
    }
    this._pending = true;
    this._saveButton.disabled = true;
    this.node.setAttribute('aria-busy', 'true');
    try {
      const document = await this.options.save(changes);
      this.reset(document);
      this._status.textContent = 'Settings saved.';
      this.options.saved?.(document);
    } catch (error) {
      this._showProblems(
        fieldProblems(errorMessage(error), new Set(this._fields.keys()))
      );
    } finally {
      this._pending = false;
      this._saveButton.disabled = false;
      this.node.setAttribute('aria-busy', 'false');
    }
  }

  private _showProblems(problems: Map<string, string>): void {
    let first: HTMLElement | null = null;
    for (const [path, field] of this._fields) {
      const problem = problems.get(path) ?? null;
      field.showProblem(problem);
      if (problem && !first) {
        first = field.focusTarget();
      }
    }
    const summary = [...problems].map(([path, problem]) =>
      path ? `${this._labels.get(path) ?? path}: ${problem}` : problem
    );
    this._error.hidden = summary.length === 0;
    this._error.replaceChildren(
      ...(summary.length
        ? [
            h('div', {
              className: 'jp-Analytics-errorTitle',
              text: 'Settings not saved'
            }),
            h('div', {
              className: 'jp-Analytics-errorMessage',
              text: summary.join('\n')
            })
          ]
        : [])
    );
    first?.focus();
  }

  // -- the schema walk ----------------------------------------------------------------------

  private _field(key: string, raw: IJSONSchema, path: string[]): IField {
    const { schema, nullable } = resolveSchema(raw, this._root);
    const label = raw.title ?? humanize(key);
    const dotted = path.join('.');
    this._labels.set(dotted, label);
    const type = schemaType(schema);
    if (type === 'object' && schema.properties) {
      return this._objectField(label, schema, path, false);
    }
    const spec: ILeafSpec = {
      label,
      schema,
      path,
      id: `${this._idPrefix}-${path.join('-')}`,
      nullable
    };
    const field = this._leafField(spec, type);
    this._fields.set(dotted, field);
    return field;
  }

  private _leafField(spec: ILeafSpec, type: string | undefined): IField {
    const { schema, nullable } = spec;
    const listName = choicesName(schema);
    const list =
      listName === undefined ? undefined : this._choices.get(listName);
    if (schema.readOnly === true) {
      return readOnlyField(spec);
    }
    if (list && 'choices' in list) {
      return selectField(spec, list.choices, true);
    }
    if (schema.enum) {
      return selectField(spec, enumChoices(schema.enum));
    }
    if (type === 'boolean') {
      return nullable
        ? selectField(spec, enumChoices([true, false]))
        : checkboxField(spec);
    }
    if (type === 'array' && schema.items) {
      const items = resolveSchema(schema.items, this._root).schema;
      return items.enum ? multiSelectField(spec, items) : jsonField(spec);
    }
    if (type === 'string' || type === 'integer' || type === 'number') {
      const field = inputField(spec, type);
      if (list && 'problem' in list) {
        const note = h('div', {
          className: `${CSS}-help`,
          testId: `settings-choices-problem-${field.path}`,
          text: `Could not load the choices (${list.problem}); enter the value instead.`,
          attrs: { id: `${spec.id}-choices` }
        });
        field.node.append(note);
        const input = field.focusTarget();
        input?.setAttribute(
          'aria-describedby',
          `${input.getAttribute('aria-describedby') ?? ''} ${note.id}`.trim()
        );
      }
      return field;
    }
    return jsonField(spec);
  }

  private _objectField(
    label: string,
    schema: IJSONSchema,
    path: string[],
    top: boolean
  ): IField {
    const children = Object.entries(schema.properties ?? {}).map(
      ([key, child]) => this._field(key, child, [...path, key])
    );
    const node = top
      ? h('div', { className: `${CSS}-fields` })
      : h(
          'fieldset',
          {
            className: `${CSS}-group`,
            testId: `settings-group-${path.join('.')}`
          },
          h('legend', { text: label })
        );
    if (!top && schema.description) {
      node.append(
        h('div', { className: `${CSS}-help`, text: schema.description })
      );
    }
    node.append(...children.map(child => child.node));
    const keys = Object.keys(schema.properties ?? {});
    return {
      path: path.join('.'),
      node,
      read: () => {
        const value: JSONObject = {};
        for (const [index, child] of children.entries()) {
          if (child.readOnly) {
            continue; // the server's to set: never in what is sent
          }
          const reading = child.read();
          if ('problem' in reading) {
            return reading;
          }
          value[keys[index]] = reading.value;
        }
        return { value };
      },
      write: value => {
        const object =
          typeof value === 'object' && value !== null && !Array.isArray(value)
            ? value
            : {};
        children.forEach((child, index) => child.write(object[keys[index]]));
      },
      showProblem: () => undefined,
      focusTarget: () => null
    };
  }

  private readonly _root: IJSONSchema;
  private readonly _choices: LoadedChoices;
  private readonly _idPrefix: string;
  private readonly _fields = new Map<string, IField>();
  private readonly _labels = new Map<string, string>();
  private readonly _top: IField;
  private readonly _status: HTMLElement;
  private readonly _error: HTMLElement;
  private readonly _saveButton: HTMLButtonElement;
  private _baseline: JSONObject;
  private _pending = false;
}
