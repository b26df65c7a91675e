/**
 * A form generated from a JSON Schema: one labelled control per property, so
 * a setting added on the server (`schemas/settings.py`) appears here with no
 * frontend change. Strings (enum → select, format → input type), integers and
 * numbers (bounds), booleans (checkbox), nested objects (fieldset), arrays of
 * enums (checkbox group), optional `anyOf [T, null]` fields, `$ref`/`$defs`.
 * Save sends only what changed; problems (the form's own checks, or the
 * server's 4xx, placed next to the field it names) stay in the form.
 */
import { errorMessage } from '../../api';
import type { IJSONSchema, JSONObject, JSONValue } from '../../api/account';
import { h } from '../../ui/dom';
import {
  diffSettings,
  fieldProblems,
  humanize,
  resolveSchema,
  schemaType,
  validateValue
} from './schema';

const CSS = 'jp-AnalyticsSettingsForm';

/** What a control holds: a value, or why it holds none. */
type Reading = { value: JSONValue } | { problem: string };

/** One generated control (or fieldset) for the property at `path`. */
interface IField {
  readonly path: string;
  readonly node: HTMLElement;
  read(): Reading;
  write(value: JSONValue | undefined): void;
  showProblem(problem: string | null): void;
  /** The control to focus when its problem is shown. */
  focusTarget(): HTMLElement | null;
}

export interface ISettingsFormOptions {
  /** Prefix of element ids, unique in the document. */
  idPrefix?: string;
  /** Send the PATCH body; resolves with the server's new document. */
  save(changes: JSONObject): Promise<JSONObject>;
  /** Called after a save the server accepted. */
  saved?(document: JSONObject): void;
}

export class SettingsForm {
  readonly node: HTMLFormElement;

  constructor(
    schema: IJSONSchema,
    values: JSONObject,
    private readonly options: ISettingsFormOptions
  ) {
    this._root = schema;
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

  // -- field builders --------------------------------------------------------------------

  private _field(key: string, raw: IJSONSchema, path: string[]): IField {
    const { schema, nullable } = resolveSchema(raw, this._root);
    const label = raw.title ?? humanize(key);
    const dotted = path.join('.');
    this._labels.set(dotted, label);
    const type = schemaType(schema);
    if (type === 'object' && schema.properties) {
      return this._objectField(label, schema, path, false);
    }
    let field: IField;
    if (schema.enum) {
      field = this._selectField(label, schema, path, nullable);
    } else if (type === 'boolean') {
      field = nullable
        ? this._selectField(
            label,
            { ...schema, enum: [true, false] },
            path,
            true
          )
        : this._checkboxField(label, schema, path);
    } else if (type === 'array' && schema.items) {
      const items = resolveSchema(schema.items, this._root).schema;
      field = items.enum
        ? this._multiSelectField(label, schema, items, path, nullable)
        : this._jsonField(label, schema, path, nullable);
    } else if (type === 'string' || type === 'integer' || type === 'number') {
      field = this._inputField(label, schema, path, nullable, type);
    } else {
      field = this._jsonField(label, schema, path, nullable);
    }
    this._fields.set(dotted, field);
    return field;
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

  /** A labelled row: label, control, help (aria-describedby) and a problem line. */
  private _row(
    label: string,
    schema: IJSONSchema,
    path: string[],
    control: HTMLElement,
    inline = false
  ): { row: HTMLElement; problem: HTMLElement } {
    const id = this._id(path);
    control.id = id;
    control.dataset.testid = `settings-field-${path.join('.')}`;
    const describedBy: string[] = [];
    const row = h('div', {
      className: `${CSS}-row${inline ? ` ${CSS}-row-inline` : ''}`
    });
    const labelNode = h('label', { text: label, attrs: { for: id } });
    row.append(...(inline ? [control, labelNode] : [labelNode, control]));
    if (schema.description) {
      const help = h('div', {
        className: `${CSS}-help`,
        text: schema.description,
        attrs: { id: `${id}-help` }
      });
      describedBy.push(help.id);
      row.append(help);
    }
    const problem = h('div', {
      className: `${CSS}-problem`,
      testId: `settings-problem-${path.join('.')}`,
      attrs: { id: `${id}-problem` }
    });
    problem.hidden = true;
    describedBy.push(problem.id);
    row.append(problem);
    control.setAttribute('aria-describedby', describedBy.join(' '));
    return { row, problem };
  }

  private _withProblem(
    control: HTMLElement,
    problemNode: HTMLElement
  ): (problem: string | null) => void {
    return problem => {
      problemNode.hidden = problem === null;
      problemNode.textContent = problem ?? '';
      if (problem === null) {
        control.removeAttribute('aria-invalid');
      } else {
        control.setAttribute('aria-invalid', 'true');
      }
    };
  }

  private _inputField(
    label: string,
    schema: IJSONSchema,
    path: string[],
    nullable: boolean,
    type: 'string' | 'integer' | 'number'
  ): IField {
    const input = h('input', { className: 'jp-mod-styled' });
    if (type === 'string') {
      input.type = INPUT_TYPES[schema.format ?? ''] ?? 'text';
      if (schema.maxLength !== undefined) {
        input.maxLength = schema.maxLength;
      }
      if (schema.pattern !== undefined) {
        input.pattern = schema.pattern;
      }
    } else {
      input.type = 'number';
      input.step = type === 'integer' ? String(schema.multipleOf ?? 1) : 'any';
      if (schema.minimum !== undefined) {
        input.min = String(schema.minimum);
      }
      if (schema.maximum !== undefined) {
        input.max = String(schema.maximum);
      }
    }
    const fixed =
      schema.readOnly === true ||
      (schema.minimum !== undefined && schema.minimum === schema.maximum);
    input.readOnly = fixed;
    input.required = !nullable && !fixed;
    if (nullable) {
      input.placeholder = 'None';
    }
    const { row, problem } = this._row(label, schema, path, input);
    const show = this._withProblem(input, problem);
    return {
      path: path.join('.'),
      node: row,
      read: () => {
        const text = input.value;
        let value: JSONValue;
        if (text.trim() === '' && (nullable || type !== 'string')) {
          if (!nullable) {
            return { problem: 'is required' };
          }
          value = null;
        } else if (type === 'string') {
          value = text;
        } else {
          value = Number(text);
          if (!Number.isFinite(value)) {
            return { problem: 'must be a number' };
          }
        }
        const problemText = validateValue(schema, value);
        return problemText ? { problem: problemText } : { value };
      },
      write: value => {
        const shown = value === undefined ? schema.default : value;
        input.value =
          shown === null || shown === undefined ? '' : String(shown);
      },
      showProblem: show,
      focusTarget: () => input
    };
  }

  private _checkboxField(
    label: string,
    schema: IJSONSchema,
    path: string[]
  ): IField {
    const input = h('input', { attrs: { type: 'checkbox' } });
    const { row, problem } = this._row(label, schema, path, input, true);
    return {
      path: path.join('.'),
      node: row,
      read: () => ({ value: input.checked }),
      write: value => {
        const shown = value === undefined ? schema.default : value;
        input.checked = shown === true;
      },
      showProblem: this._withProblem(input, problem),
      focusTarget: () => input
    };
  }

  private _selectField(
    label: string,
    schema: IJSONSchema,
    path: string[],
    nullable: boolean
  ): IField {
    const options = schema.enum ?? [];
    const select = h('select', { className: 'jp-mod-styled' });
    if (nullable) {
      select.append(h('option', { text: 'None', attrs: { value: '' } }));
    }
    options.forEach((option, index) => {
      select.append(
        h('option', {
          text: optionLabel(option),
          attrs: { value: String(index) }
        })
      );
    });
    const { row, problem } = this._row(label, schema, path, select);
    return {
      path: path.join('.'),
      node: row,
      read: () =>
        select.value === ''
          ? { value: null }
          : { value: options[Number(select.value)] },
      write: value => {
        const shown = value === undefined ? schema.default : value;
        const index = options.findIndex(option => option === shown);
        select.value = index >= 0 ? String(index) : nullable ? '' : '0';
      },
      showProblem: this._withProblem(select, problem),
      focusTarget: () => select
    };
  }

  /** An array of enum values: a group of checkboxes, one per option. */
  private _multiSelectField(
    label: string,
    schema: IJSONSchema,
    items: IJSONSchema,
    path: string[],
    nullable: boolean
  ): IField {
    const options = items.enum ?? [];
    const id = this._id(path);
    const group = h('fieldset', {
      className: `${CSS}-choices`,
      testId: `settings-field-${path.join('.')}`,
      attrs: { id }
    });
    group.append(h('legend', { text: label }));
    const boxes = options.map((option, index) => {
      const box = h('input', {
        attrs: { type: 'checkbox', id: `${id}-${index}` }
      });
      group.append(
        h(
          'span',
          { className: `${CSS}-choice` },
          box,
          h('label', { text: optionLabel(option), attrs: { for: box.id } })
        )
      );
      return box;
    });
    const help = schema.description
      ? h('div', { className: `${CSS}-help`, text: schema.description })
      : null;
    const problemNode = h('div', { className: `${CSS}-problem` });
    problemNode.hidden = true;
    group.append(...(help ? [help] : []), problemNode);
    return {
      path: path.join('.'),
      node: h('div', { className: `${CSS}-row` }, group),
      read: () => {
        const value = options.filter((_, index) => boxes[index].checked);
        const problemText = validateArray(schema, value, nullable);
        return problemText ? { problem: problemText } : { value };
      },
      write: value => {
        const shown = value === undefined ? schema.default : value;
        const chosen = Array.isArray(shown) ? shown : [];
        boxes.forEach((box, index) => {
          box.checked = chosen.some(item => item === options[index]);
        });
      },
      showProblem: this._withProblem(group, problemNode),
      focusTarget: () => boxes[0] ?? null
    };
  }

  /** Any other shape (arrays of objects, free maps): edited as JSON text. */
  private _jsonField(
    label: string,
    schema: IJSONSchema,
    path: string[],
    nullable: boolean
  ): IField {
    const area = h('textarea', {
      className: 'jp-mod-styled',
      attrs: { rows: '3' }
    });
    const { row, problem } = this._row(label, schema, path, area);
    return {
      path: path.join('.'),
      node: row,
      read: () => {
        if (area.value.trim() === '') {
          return nullable ? { value: null } : { problem: 'is required' };
        }
        try {
          return { value: JSON.parse(area.value) as JSONValue };
        } catch {
          return { problem: 'must be valid JSON' };
        }
      },
      write: value => {
        const shown = value === undefined ? schema.default : value;
        area.value =
          shown === undefined || shown === null
            ? ''
            : JSON.stringify(shown, null, 2);
      },
      showProblem: this._withProblem(area, problem),
      focusTarget: () => area
    };
  }

  private _id(path: string[]): string {
    return `${this._idPrefix}-${path.join('-')}`;
  }

  private readonly _root: IJSONSchema;
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

/** Input types for string formats a browser can help with. */
const INPUT_TYPES: Record<string, string> = {
  email: 'email',
  uri: 'url',
  url: 'url',
  date: 'date',
  time: 'time',
  color: 'color',
  password: 'password'
};

function optionLabel(option: JSONValue): string {
  if (option === true) {
    return 'Yes';
  }
  if (option === false) {
    return 'No';
  }
  return typeof option === 'string' ? option : JSON.stringify(option);
}

function validateArray(
  schema: IJSONSchema,
  value: JSONValue[],
  nullable: boolean
): string | null {
  const min = schema.minItems;
  const max = schema.maxItems;
  if (
    min !== undefined &&
    value.length < min &&
    !(nullable && value.length === 0)
  ) {
    return min === 1 ? 'choose at least one' : `choose at least ${min}`;
  }
  if (max !== undefined && value.length > max) {
    return `choose at most ${max}`;
  }
  return null;
}
