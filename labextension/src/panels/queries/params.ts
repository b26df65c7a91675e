/**
 * The small parameter form of "Use template": one field per typed parameter
 * definition, read back into the values `instantiate` sends. Empty fields
 * are left out, so the template's defaults apply; the server validates again
 * and its 422 names the parameter.
 */
import type { IParameterDefinition, ParameterValue } from '../../api/queries';
import { h } from '../../ui/dom';

const CSS = 'jp-AnalyticsQueries';

/** Raw text of a field: one string, or two for a date range. */
export type RawValue = string | { start: string; end: string };

/**
 * The value to send for `definition` from what the user typed, `undefined`
 * for "use the default". Throws an `Error` naming the parameter when the text
 * does not fit its type.
 */
export function parameterValue(
  definition: IParameterDefinition,
  raw: RawValue
): ParameterValue | undefined {
  const label = definition.label || definition.name;
  if (definition.type === 'date_range') {
    const range = typeof raw === 'string' ? { start: raw, end: raw } : raw;
    const start = range.start.trim();
    const end = range.end.trim();
    if (!start && !end) {
      return undefined;
    }
    if (!start || !end) {
      throw new Error(`${label}: give both the start and the end date.`);
    }
    return { start, end };
  }
  const text = (typeof raw === 'string' ? raw : raw.start).trim();
  if (text === '') {
    return undefined;
  }
  switch (definition.type) {
    case 'number': {
      const value = Number(text);
      if (!Number.isFinite(value)) {
        throw new Error(`${label}: ${JSON.stringify(text)} is not a number.`);
      }
      if (definition.integer && !Number.isInteger(value)) {
        throw new Error(`${label}: must be a whole number.`);
      }
      return value;
    }
    case 'enum': {
      // The select holds option indexes, so numbers stay numbers.
      const options = definition.options ?? [];
      const index = Number(text);
      if (!Number.isInteger(index) || index < 0 || index >= options.length) {
        throw new Error(`${label}: choose one of the options.`);
      }
      return options[index];
    }
    default:
      return text;
  }
}

/**
 * Form fields for `definitions`, each labelled, defaults shown as
 * placeholders; with `prefill`, the fields start with the defaults (the
 * export form, where the values sent are what the user sees).
 */
export function parameterFields(
  definitions: IParameterDefinition[],
  options: { prefill?: boolean; testId?: string } = {}
): HTMLElement {
  const box = h('div', {
    className: `${CSS}-params`,
    testId: options.testId ?? 'queries-template-params'
  });
  for (const definition of definitions) {
    const id = `${CSS}-param-${definition.name}-${Math.random().toString(36).slice(2, 8)}`;
    const label = definition.label || definition.name;
    const title = h('label', {
      className: `${CSS}-label`,
      text: `${label}${definition.required ? ' *' : ''}`,
      attrs: { for: id }
    });
    let field: HTMLElement;
    const fallback = defaultText(definition);
    if (definition.type === 'enum') {
      const select = h('select', {
        className: `${CSS}-input`,
        attrs: { id, 'data-param': definition.name }
      });
      select.append(
        h('option', {
          text: fallback ? `Default (${fallback})` : '—',
          attrs: { value: '' }
        })
      );
      (definition.options ?? []).forEach((option, index) => {
        select.append(
          h('option', { text: String(option), attrs: { value: String(index) } })
        );
      });
      field = select;
    } else if (definition.type === 'date_range') {
      field = h(
        'span',
        { className: `${CSS}-range`, attrs: { 'data-param': definition.name } },
        h('input', {
          className: `${CSS}-input`,
          attrs: {
            id,
            type: 'text',
            'data-part': 'start',
            placeholder: 'start (YYYY-MM-DD)',
            'aria-label': `${label} start`
          }
        }),
        h('input', {
          className: `${CSS}-input`,
          attrs: {
            type: 'text',
            'data-part': 'end',
            placeholder: 'end (YYYY-MM-DD)',
            'aria-label': `${label} end`
          }
        })
      );
    } else {
      field = h('input', {
        className: `${CSS}-input`,
        attrs: {
          id,
          type: definition.type === 'number' ? 'number' : 'text',
          'data-param': definition.name,
          placeholder: fallback
            ? `default: ${fallback}`
            : definition.type === 'date'
              ? 'YYYY-MM-DD or today-7d'
              : ''
        }
      });
      if (definition.type === 'number') {
        field.setAttribute('step', definition.integer ? '1' : 'any');
      }
    }
    if (options.prefill) {
      prefillField(definition, field);
    }
    box.append(
      h('div', { className: `${CSS}-field` }, title, field),
      ...(definition.description
        ? [h('div', { className: `${CSS}-hint`, text: definition.description })]
        : [])
    );
  }
  return box;
}

/** The values typed into a `parameterFields` box (empty fields left out). */
export function readParameters(
  definitions: IParameterDefinition[],
  box: HTMLElement
): Record<string, ParameterValue> {
  const values: Record<string, ParameterValue> = {};
  for (const definition of definitions) {
    const field = [...box.querySelectorAll<HTMLElement>('[data-param]')].find(
      node => node.dataset.param === definition.name
    );
    if (!field) {
      continue;
    }
    let raw: RawValue;
    if (definition.type === 'date_range') {
      raw = {
        start:
          field.querySelector<HTMLInputElement>('[data-part="start"]')?.value ??
          '',
        end:
          field.querySelector<HTMLInputElement>('[data-part="end"]')?.value ??
          ''
      };
    } else {
      raw = (field as HTMLInputElement | HTMLSelectElement).value;
    }
    const value = parameterValue(definition, raw);
    if (value !== undefined) {
      values[definition.name] = value;
    }
  }
  return values;
}

/** Put the definition's default into its field, as `readParameters` reads it back. */
function prefillField(
  definition: IParameterDefinition,
  field: HTMLElement
): void {
  const value = definition.default;
  if (value === undefined || value === null) {
    return;
  }
  if (definition.type === 'date_range') {
    if (typeof value === 'object') {
      field.querySelector<HTMLInputElement>('[data-part="start"]')!.value =
        value.start;
      field.querySelector<HTMLInputElement>('[data-part="end"]')!.value =
        value.end;
    }
    return;
  }
  if (definition.type === 'enum') {
    const index = (definition.options ?? []).findIndex(
      option => option === value
    );
    if (index >= 0) {
      (field as HTMLSelectElement).value = String(index);
    }
    return;
  }
  if (typeof value !== 'object') {
    (field as HTMLInputElement).value = String(value);
  }
}

function defaultText(definition: IParameterDefinition): string {
  const value = definition.default;
  if (value === undefined || value === null) {
    return '';
  }
  if (typeof value === 'object') {
    return `${value.start} – ${value.end}`;
  }
  return String(value);
}
