/**
 * The generated settings form's controls, one builder per kind of property:
 * text/number inputs (format → input type, bounds), checkboxes, selects (an
 * enum, or a choice list a provider supplied), checkbox groups (arrays of
 * enums), JSON text for any other shape, and read-only text for what the
 * server sets. Each returns an `IField` that reads, writes and shows a
 * problem in the same way, so the form controller (`settings-form.ts`) can
 * treat every property alike whatever its type.
 */
import type { IJSONSchema, JSONValue } from '../../api/account';
import { h } from '../../ui/dom';
import type { IChoice } from './settings-choices';
import { validateArray, validateValue } from './schema';

export const CSS = 'jp-AnalyticsSettingsForm';

/** What a control holds: a value, or why it holds none. */
export type Reading = { value: JSONValue } | { problem: string };

/** One generated control (or fieldset) for the property at `path`. */
export interface IField {
  readonly path: string;
  readonly node: HTMLElement;
  /** Set by the server: shown, never sent (its object leaves it out when read). */
  readonly readOnly?: boolean;
  read(): Reading;
  write(value: JSONValue | undefined): void;
  showProblem(problem: string | null): void;
  /** The control to focus when its problem is shown. */
  focusTarget(): HTMLElement | null;
}

/** One leaf property, as its builder needs it. */
export interface ILeafSpec {
  label: string;
  /** The property's schema, `$ref` and "or null" resolved. */
  schema: IJSONSchema;
  path: string[];
  /** The control's element id, unique in the document. */
  id: string;
  /** Whether null is allowed (`anyOf [T, null]`). */
  nullable: boolean;
}

/** A labelled row: label, control, help (aria-describedby) and a problem line. */
function labelledRow(
  spec: ILeafSpec,
  control: HTMLElement,
  inline = false
): { row: HTMLElement; problem: HTMLElement } {
  const { id, path, schema } = spec;
  control.id = id;
  control.dataset.testid = `settings-field-${path.join('.')}`;
  const describedBy: string[] = [];
  const row = h('div', {
    className: `${CSS}-row${inline ? ` ${CSS}-row-inline` : ''}`
  });
  const labelNode = h('label', { text: spec.label, attrs: { for: id } });
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

function problemSetter(
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

/** What a control shows: the document's value, or the schema default where it has none. */
function shownValue(
  schema: IJSONSchema,
  value: JSONValue | undefined
): JSONValue | undefined {
  return value === undefined ? schema.default : value;
}

export function inputField(
  spec: ILeafSpec,
  type: 'string' | 'integer' | 'number'
): IField {
  const { schema, nullable } = spec;
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
  // One allowed value (minimum == maximum): shown, but nothing to type.
  const fixed =
    schema.minimum !== undefined && schema.minimum === schema.maximum;
  input.readOnly = fixed;
  input.required = !nullable && !fixed;
  if (nullable) {
    input.placeholder = 'None';
  }
  const { row, problem } = labelledRow(spec, input);
  return {
    path: spec.path.join('.'),
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
      const shown = shownValue(schema, value);
      input.value = shown === null || shown === undefined ? '' : String(shown);
    },
    showProblem: problemSetter(input, problem),
    focusTarget: () => input
  };
}

export function checkboxField(spec: ILeafSpec): IField {
  const input = h('input', { attrs: { type: 'checkbox' } });
  const { row, problem } = labelledRow(spec, input, true);
  return {
    path: spec.path.join('.'),
    node: row,
    read: () => ({ value: input.checked }),
    write: value => {
      input.checked = shownValue(spec.schema, value) === true;
    },
    showProblem: problemSetter(input, problem),
    focusTarget: () => input
  };
}

/** An enum's values as choices (`true`/`false` as Yes/No). */
export function enumChoices(values: JSONValue[]): IChoice[] {
  return values.map(value => ({ value, label: optionLabel(value) }));
}

/**
 * A select of `choices` ("None" first when the property is optional). With
 * `keepUnknown` (choices a provider listed, which may lack the stored value,
 * e.g. a datasource no longer shared), a value not in the list is kept as an
 * extra option rather than silently replaced on the next save.
 */
export function selectField(
  spec: ILeafSpec,
  choices: readonly IChoice[],
  keepUnknown = false
): IField {
  const { schema, nullable } = spec;
  const options = [...choices];
  const select = h('select', { className: 'jp-mod-styled' });
  if (nullable) {
    select.append(h('option', { text: 'None', attrs: { value: '' } }));
  }
  const addOption = (choice: IChoice): void => {
    select.append(
      h('option', {
        text: choice.label,
        attrs: { value: String(options.indexOf(choice)) }
      })
    );
  };
  options.forEach(addOption);
  const { row, problem } = labelledRow(spec, select);
  return {
    path: spec.path.join('.'),
    node: row,
    read: () =>
      select.value === ''
        ? { value: null }
        : { value: options[Number(select.value)].value },
    write: value => {
      const shown = shownValue(schema, value);
      let index = options.findIndex(option => option.value === shown);
      if (index < 0 && keepUnknown && shown !== null && shown !== undefined) {
        const unknown = {
          value: shown,
          label: `${optionLabel(shown)} (not available)`
        };
        index = options.push(unknown) - 1;
        addOption(unknown);
      }
      select.value = index >= 0 ? String(index) : nullable ? '' : '0';
    },
    showProblem: problemSetter(select, problem),
    focusTarget: () => select
  };
}

/** An array of enum values: a group of checkboxes, one per option. */
export function multiSelectField(spec: ILeafSpec, items: IJSONSchema): IField {
  const { id, schema, nullable } = spec;
  const options = items.enum ?? [];
  const group = h('fieldset', {
    className: `${CSS}-choices`,
    testId: `settings-field-${spec.path.join('.')}`,
    attrs: { id }
  });
  group.append(h('legend', { text: spec.label }));
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
    path: spec.path.join('.'),
    node: h('div', { className: `${CSS}-row` }, group),
    read: () => {
      const value = options.filter((_, index) => boxes[index].checked);
      const problemText = validateArray(schema, value, nullable);
      return problemText ? { problem: problemText } : { value };
    },
    write: value => {
      const shown = shownValue(schema, value);
      const chosen = Array.isArray(shown) ? shown : [];
      boxes.forEach((box, index) => {
        box.checked = chosen.some(item => item === options[index]);
      });
    },
    showProblem: problemSetter(group, problemNode),
    focusTarget: () => boxes[0] ?? null
  };
}

/** Any other shape (arrays of objects, free maps): edited as JSON text. */
export function jsonField(spec: ILeafSpec): IField {
  const area = h('textarea', {
    className: 'jp-mod-styled',
    attrs: { rows: '3' }
  });
  const { row, problem } = labelledRow(spec, area);
  return {
    path: spec.path.join('.'),
    node: row,
    read: () => {
      if (area.value.trim() === '') {
        return spec.nullable ? { value: null } : { problem: 'is required' };
      }
      try {
        return { value: JSON.parse(area.value) as JSONValue };
      } catch {
        return { problem: 'must be valid JSON' };
      }
    },
    write: value => {
      const shown = shownValue(spec.schema, value);
      area.value =
        shown === undefined || shown === null
          ? ''
          : JSON.stringify(shown, null, 2);
    },
    showProblem: problemSetter(area, problem),
    focusTarget: () => area
  };
}

/**
 * A property the schema marks `readOnly` (the server sets it and ignores or
 * refuses changes): its value as text in an `<output>` (labelable, so the
 * label still names it), and `readOnly` so it is never part of a PATCH.
 */
export function readOnlyField(spec: ILeafSpec): IField {
  const output = h('output', { className: `${CSS}-readOnly` });
  const { row, problem } = labelledRow(spec, output);
  let current: JSONValue = null;
  return {
    path: spec.path.join('.'),
    node: row,
    readOnly: true,
    read: () => ({ value: current }),
    write: value => {
      current = shownValue(spec.schema, value) ?? null;
      output.textContent = current === null ? 'None' : optionLabel(current);
    },
    showProblem: problemSetter(output, problem),
    focusTarget: () => null
  };
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
