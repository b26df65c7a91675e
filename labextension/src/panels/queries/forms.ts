/**
 * The inline forms of the Queries section: New query (also "Save" from a
 * history run), Rename, and Use template. Each stays open with the server's
 * message when the request fails, and its submit button is disabled while the
 * request is pending, so nothing is sent twice or half-done.
 */
import { errorMessage } from '../../api';
import type {
  IDatasourceChoice,
  IParameterDefinition,
  ParameterValue
} from '../../api/queries';
import { h } from '../../ui/dom';
import { parseTags } from './model';
import { parameterFields, readParameters } from './params';
import { CSS } from './views';

export interface IFormShell {
  node: HTMLFormElement;
  /** Where the fields go. */
  fields: HTMLElement;
  /** Show a message in the form's error box (empty hides it). */
  showError(message: string): void;
}

interface IShellOptions {
  title: string;
  testId: string;
  submitLabel: string;
  /** Resolves when done (the form closes); throws to keep it open with the message. */
  onSubmit(): Promise<void>;
  onClose(): void;
}

/** A titled form with an error box, Submit and Cancel. */
export function formShell(options: IShellOptions): IFormShell {
  const fields = h('div', { className: `${CSS}-fields` });
  const error = h('div', {
    className: `${CSS}-formError`,
    testId: 'queries-form-error',
    attrs: { role: 'alert' }
  });
  error.hidden = true;
  const submit = h('button', {
    className: `${CSS}-button jp-mod-accept`,
    testId: 'queries-form-submit',
    text: options.submitLabel,
    attrs: { type: 'submit' }
  });
  const cancel = h('button', {
    className: `${CSS}-button`,
    testId: 'queries-form-cancel',
    text: 'Cancel',
    attrs: { type: 'button' }
  });
  const form = h(
    'form',
    {
      className: `${CSS}-form`,
      testId: options.testId,
      attrs: { 'aria-label': options.title, novalidate: '' }
    },
    h('div', { className: `${CSS}-formTitle`, text: options.title }),
    fields,
    error,
    h('div', { className: `${CSS}-formButtons` }, cancel, submit)
  );
  const showError = (message: string): void => {
    error.textContent = message;
    error.hidden = message.length === 0;
  };
  cancel.addEventListener('click', () => options.onClose());
  form.addEventListener('keydown', event => {
    if (event.key === 'Escape') {
      event.stopPropagation();
      options.onClose();
    }
  });
  form.addEventListener('submit', event => {
    event.preventDefault();
    if (submit.disabled) {
      return;
    }
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    showError('');
    options
      .onSubmit()
      .then(() => options.onClose())
      .catch(reason => showError(errorMessage(reason)))
      .finally(() => {
        submit.disabled = false;
        form.setAttribute('aria-busy', 'false');
      });
  });
  return { node: form, fields, showError };
}

/** A labelled field. */
export function field(
  label: string,
  control: HTMLElement,
  hint?: string
): HTMLElement {
  const id = `${CSS}-field-${Math.random().toString(36).slice(2, 10)}`;
  control.id = id;
  return h(
    'div',
    { className: `${CSS}-field` },
    h('label', { className: `${CSS}-label`, text: label, attrs: { for: id } }),
    control,
    ...(hint ? [h('div', { className: `${CSS}-hint`, text: hint })] : [])
  );
}

/** A `<select>` of datasources the user may run queries on (`use` or `manage`). */
export function datasourceSelect(
  datasources: readonly IDatasourceChoice[],
  selected: string | null,
  testId: string
): HTMLSelectElement {
  const select = h('select', { className: `${CSS}-input`, testId });
  const usable = datasources.filter(d => d.permission !== 'view');
  if (usable.length === 0) {
    select.append(
      h('option', { text: 'No datasource you may use', attrs: { value: '' } })
    );
  }
  for (const datasource of usable) {
    const option = h('option', {
      text: `${datasource.name} (${datasource.dialect})`,
      attrs: { value: datasource.id }
    });
    option.selected = datasource.id === selected;
    select.append(option);
  }
  return select;
}

export interface INewQueryValues {
  name: string;
  datasource_id: string;
  sql: string;
  tags: string[];
  description: string;
}

/** Check what the user typed before it goes to the server (the server checks again). */
export function checkNewQuery(values: INewQueryValues): void {
  if (!values.name.trim()) {
    throw new Error('Give the query a name.');
  }
  if (!values.datasource_id) {
    throw new Error('Choose a datasource.');
  }
  if (!values.sql.trim()) {
    throw new Error('Write the SQL of the query.');
  }
}

/** The New query form; `save` is `POST /api/query`. */
export function newQueryForm(options: {
  datasources: readonly IDatasourceChoice[];
  prefill?: Partial<INewQueryValues>;
  title?: string;
  save(values: INewQueryValues): Promise<void>;
  onClose(): void;
}): IFormShell {
  const name = h('input', {
    className: `${CSS}-input`,
    testId: 'queries-form-name',
    attrs: { type: 'text', maxlength: '200', autocomplete: 'off' }
  });
  name.value = options.prefill?.name ?? '';
  const datasource = datasourceSelect(
    options.datasources,
    options.prefill?.datasource_id ?? null,
    'queries-form-datasource'
  );
  const sql = h('textarea', {
    className: `${CSS}-input ${CSS}-sqlInput`,
    testId: 'queries-form-sql',
    attrs: {
      rows: '6',
      spellcheck: 'false',
      placeholder: 'SELECT … FROM … WHERE region = :region'
    }
  });
  sql.value = options.prefill?.sql ?? '';
  const tags = h('input', {
    className: `${CSS}-input`,
    testId: 'queries-form-tags',
    attrs: { type: 'text', autocomplete: 'off', placeholder: 'sales, weekly' }
  });
  tags.value = (options.prefill?.tags ?? []).join(', ');
  const description = h('input', {
    className: `${CSS}-input`,
    testId: 'queries-form-description',
    attrs: { type: 'text', autocomplete: 'off' }
  });
  description.value = options.prefill?.description ?? '';
  const shell = formShell({
    title: options.title ?? 'New query',
    testId: 'queries-new-form',
    submitLabel: 'Save query',
    onClose: options.onClose,
    onSubmit: async () => {
      const values: INewQueryValues = {
        name: name.value.trim(),
        datasource_id: datasource.value,
        sql: sql.value,
        tags: parseTags(tags.value),
        description: description.value
      };
      checkNewQuery(values);
      await options.save(values);
    }
  });
  shell.fields.append(
    field('Name', name),
    field('Datasource', datasource),
    field('SQL', sql, 'Named parameters are written :name.'),
    field('Tags', tags, 'Comma-separated.'),
    field('Description', description)
  );
  return shell;
}

/** Rename a saved query. */
export function renameForm(options: {
  current: string;
  rename(name: string): Promise<void>;
  onClose(): void;
}): IFormShell {
  const name = h('input', {
    className: `${CSS}-input`,
    testId: 'queries-form-name',
    attrs: { type: 'text', maxlength: '200', autocomplete: 'off' }
  });
  name.value = options.current;
  const shell = formShell({
    title: `Rename “${options.current}”`,
    testId: 'queries-rename-form',
    submitLabel: 'Rename',
    onClose: options.onClose,
    onSubmit: async () => {
      const value = name.value.trim();
      if (!value) {
        throw new Error('The name cannot be empty.');
      }
      await options.rename(value);
    }
  });
  shell.fields.append(field('New name', name));
  return shell;
}

/** Use a template: name, datasource and its parameters → a new saved query. */
export function templateForm(options: {
  templateName: string;
  parameters: IParameterDefinition[];
  datasources: readonly IDatasourceChoice[];
  instantiate(values: {
    name: string;
    datasource_id: string;
    parameters: Record<string, ParameterValue>;
  }): Promise<void>;
  onClose(): void;
}): IFormShell {
  const name = h('input', {
    className: `${CSS}-input`,
    testId: 'queries-form-name',
    attrs: { type: 'text', maxlength: '200', autocomplete: 'off' }
  });
  name.value = options.templateName;
  const datasource = datasourceSelect(
    options.datasources,
    null,
    'queries-form-datasource'
  );
  const params = parameterFields(options.parameters);
  const shell = formShell({
    title: `Use template “${options.templateName}”`,
    testId: 'queries-template-form',
    submitLabel: 'Create query',
    onClose: options.onClose,
    onSubmit: async () => {
      if (!name.value.trim()) {
        throw new Error('Give the new query a name.');
      }
      if (!datasource.value) {
        throw new Error('Choose a datasource.');
      }
      await options.instantiate({
        name: name.value.trim(),
        datasource_id: datasource.value,
        parameters: readParameters(options.parameters, params)
      });
    }
  });
  shell.fields.append(
    field('Query name', name),
    field('Datasource', datasource)
  );
  if (options.parameters.length > 0) {
    shell.fields.append(params);
  }
  return shell;
}

export interface ITemplateFormValues {
  name: string;
  description: string;
  /** Jinja2 SQL. */
  body: string;
}

/**
 * Name, description and SQL of a template: "Save as template" (prefilled
 * from the saved query, `POST`) and Edit (prefilled from the template,
 * `PATCH`). The parameters are not edited here: they come from the query,
 * and the server refuses a body that uses a name they do not declare.
 */
export function templateEditForm(options: {
  title: string;
  testId: string;
  submitLabel: string;
  initial: ITemplateFormValues;
  /** Names of the declared parameters, listed under the SQL. */
  parameterNames: readonly string[];
  submit(values: ITemplateFormValues): Promise<void>;
  onClose(): void;
}): IFormShell {
  const name = h('input', {
    className: `${CSS}-input`,
    testId: 'queries-form-name',
    attrs: { type: 'text', maxlength: '200', autocomplete: 'off' }
  });
  name.value = options.initial.name;
  const description = h('input', {
    className: `${CSS}-input`,
    testId: 'queries-form-description',
    attrs: { type: 'text', autocomplete: 'off', maxlength: '10000' }
  });
  description.value = options.initial.description;
  const body = h('textarea', {
    className: `${CSS}-input ${CSS}-sqlInput`,
    testId: 'queries-form-sql',
    attrs: { rows: '6', spellcheck: 'false' }
  });
  body.value = options.initial.body;
  const shell = formShell({
    title: options.title,
    testId: options.testId,
    submitLabel: options.submitLabel,
    onClose: options.onClose,
    onSubmit: async () => {
      const values: ITemplateFormValues = {
        name: name.value.trim(),
        description: description.value,
        body: body.value
      };
      if (!values.name) {
        throw new Error('Give the template a name.');
      }
      if (!values.body.trim()) {
        throw new Error('Write the SQL of the template.');
      }
      await options.submit(values);
    }
  });
  const names = options.parameterNames;
  shell.fields.append(
    field('Name', name),
    field('Description', description),
    field(
      'SQL',
      body,
      names.length > 0
        ? `Write a parameter as {{ name }}: ${names.join(', ')}.`
        : 'No parameters: the SQL is used as it is.'
    )
  );
  return shell;
}

/**
 * The parameter values of an export, prefilled with the query's defaults;
 * `run` sends them (`POST /api/query/export`) and saves the file.
 */
export function exportParamsForm(options: {
  queryName: string;
  formatLabel: string;
  parameters: IParameterDefinition[];
  run(values: Record<string, ParameterValue>): Promise<void>;
  onClose(): void;
}): IFormShell {
  const params = parameterFields(options.parameters, {
    prefill: true,
    testId: 'queries-export-params'
  });
  const shell = formShell({
    title: `Export “${options.queryName}” as ${options.formatLabel}`,
    testId: 'queries-export-form',
    submitLabel: 'Export',
    onClose: options.onClose,
    onSubmit: async () => {
      await options.run(readParameters(options.parameters, params));
    }
  });
  shell.fields.append(
    params,
    h('div', {
      className: `${CSS}-hint`,
      text: 'An empty field runs with the query’s default.'
    })
  );
  return shell;
}
