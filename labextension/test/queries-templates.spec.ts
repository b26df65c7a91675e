import type {
  IParameterDefinition,
  IQueryTemplate,
  ISavedQuery
} from '../src/api/queries';
import { AnalyticsAPIError } from '../src/api/request';
import { asksForParameters, exportRequest } from '../src/panels/queries/export';
import {
  exportParamsForm,
  templateEditForm
} from '../src/panels/queries/forms';
import { parameterFields, readParameters } from '../src/panels/queries/params';
import {
  boundNames,
  escapeJinja,
  placeholderSpans,
  templateActions,
  templateBodyFromSql,
  templateFromQuery,
  templatePatch
} from '../src/panels/queries/templates';

const PARAMETERS: IParameterDefinition[] = [
  {
    name: 'country',
    type: 'enum',
    options: ['France', 'United Kingdom'],
    default: 'France'
  },
  { name: 'min_total', type: 'number', default: 10 },
  {
    name: 'period',
    type: 'date_range',
    default: { start: '2026-01-01', end: 'today' }
  },
  { name: 'day', type: 'date', default: 'today-7d' },
  { name: 'note', type: 'text' }
];

function saved(extra: Partial<ISavedQuery> = {}): ISavedQuery {
  return {
    id: 'q1',
    name: 'Big orders',
    description: 'Orders over a total',
    datasource_id: 'ds1',
    sql: 'SELECT * FROM orders WHERE total > :min_total',
    parameters: [{ name: 'min_total', type: 'number', default: 10 }],
    tags: ['sales'],
    owner_id: 'u',
    owner_name: 'me',
    version: 2,
    permission: 'view',
    created_at: '2026-11-27T10:00:00Z',
    updated_at: '2026-11-27T10:00:00Z',
    ...extra
  };
}

const template: IQueryTemplate = {
  id: 't1',
  name: 'Big orders',
  description: 'd',
  body: 'SELECT 1',
  parameters: [],
  tags: [],
  owner_id: 'u',
  owner_name: 'me',
  permission: 'edit',
  created_at: '',
  updated_at: ''
};

const byTestId = (root: Element, id: string): HTMLElement =>
  root.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

describe('template body from a saved query', () => {
  it('writes each declared placeholder as {{ name }} (a range binds _start and _end)', () => {
    const sql =
      'SELECT * FROM orders WHERE country = :country AND total > :min_total\n' +
      'AND day BETWEEN :period_start AND :period_end AND d >= :day';
    expect(templateBodyFromSql(sql, PARAMETERS)).toBe(
      'SELECT * FROM orders WHERE country = {{ country }} AND total > {{ min_total }}\n' +
        'AND day BETWEEN {{ period_start }} AND {{ period_end }} AND d >= {{ day }}'
    );
    expect(boundNames(PARAMETERS[2])).toEqual(['period_start', 'period_end']);
  });

  it('leaves strings, quoted names, comments, casts and undeclared names alone', () => {
    const sql = [
      'SELECT \':country\' AS s, "a:country" AS q, x::int, y:country,',
      "'it''s :country' AS t, $$ :country $$ AS d, :other -- :country",
      '/* :country */ WHERE c = :country'
    ].join('\n');
    const body = templateBodyFromSql(sql, PARAMETERS);
    expect(body.match(/\{\{ country \}\}/g)).toHaveLength(1);
    expect(body.endsWith('WHERE c = {{ country }}')).toBe(true);
    expect(body).toContain(':other');
    expect(
      placeholderSpans(sql, new Set(['country'])).map(s => s.start)
    ).toEqual([sql.lastIndexOf(':country')]);
  });

  it('escapes Jinja delimiters already in the SQL, so the body renders the SQL back', () => {
    expect(escapeJinja("SELECT '{{x}}', '{% y', '{# z', '{ ok }'")).toBe(
      "SELECT '{% raw %}{{% endraw %}{x}}', '{% raw %}{{% endraw %}% y', " +
        "'{% raw %}{{% endraw %}# z', '{ ok }'"
    );
    expect(templateBodyFromSql("SELECT '{{' || :note", PARAMETERS)).toBe(
      "SELECT '{% raw %}{{% endraw %}{' || {{ note }}"
    );
  });

  it('makes the create body: name, description, body, parameters with defaults, tags; no datasource', () => {
    const query = saved();
    const body = templateFromQuery(query);
    expect(body).toEqual({
      name: 'Big orders',
      description: 'Orders over a total',
      body: 'SELECT * FROM orders WHERE total > {{ min_total }}',
      parameters: [{ name: 'min_total', type: 'number', default: 10 }],
      tags: ['sales']
    });
    expect(body).not.toHaveProperty('datasource_id');
    // Copies: editing the template body leaves the query's objects alone.
    expect(body.parameters![0]).not.toBe(query.parameters[0]);
    expect(body.tags).not.toBe(query.tags);
    const edited = templateFromQuery(query, {
      name: 'Mine',
      description: '',
      body: 'SELECT 2'
    });
    expect([edited.name, edited.description, edited.body]).toEqual([
      'Mine',
      '',
      'SELECT 2'
    ]);
  });

  it('patches only the fields that changed', () => {
    expect(
      templatePatch(template, {
        name: 'Big orders',
        description: 'd',
        body: 'SELECT 1'
      })
    ).toEqual({});
    expect(
      templatePatch(template, {
        name: 'Bigger',
        description: 'd',
        body: 'SELECT 2'
      })
    ).toEqual({
      name: 'Bigger',
      body: 'SELECT 2'
    });
  });
});

describe('template permissions → actions', () => {
  it('view uses only; edit may edit; manage may also delete and share', () => {
    expect(templateActions('view')).toEqual({
      use: true,
      edit: false,
      remove: false,
      share: false
    });
    expect(templateActions('edit')).toEqual({
      use: true,
      edit: true,
      remove: false,
      share: false
    });
    expect(templateActions('manage')).toEqual({
      use: true,
      edit: true,
      remove: true,
      share: true
    });
  });
});

describe('template form', () => {
  it('sends the trimmed values once, keeps the form with the server message', async () => {
    const submit = jest
      .fn()
      .mockRejectedValueOnce(
        new AnalyticsAPIError(
          new Response(null, { status: 422 }),
          "body: 'x' is not a parameter of this template (line 1)",
          null
        )
      )
      .mockResolvedValueOnce(undefined);
    const onClose = jest.fn();
    const form = templateEditForm({
      title: 'Save “<b>x</b>” as a template',
      testId: 'queries-save-template-form',
      submitLabel: 'Save template',
      initial: { name: '<b>x</b>', description: 'd', body: 'SELECT {{ x }}' },
      parameterNames: ['min_total'],
      submit,
      onClose
    });
    document.body.append(form.node);
    expect(form.node.querySelector('b')).toBeNull();
    expect(form.node.textContent).toContain('{{ name }}: min_total');
    (byTestId(form.node, 'queries-form-name') as HTMLInputElement).value =
      '  Renamed ';
    const button = byTestId(
      form.node,
      'queries-form-submit'
    ) as HTMLButtonElement;
    form.node.requestSubmit(button);
    form.node.requestSubmit(button);
    expect(button.disabled).toBe(true);
    await settle();
    expect(submit).toHaveBeenCalledTimes(1);
    expect(submit).toHaveBeenCalledWith({
      name: 'Renamed',
      description: 'd',
      body: 'SELECT {{ x }}'
    });
    expect(byTestId(form.node, 'queries-form-error').textContent).toContain(
      'not a parameter'
    );
    expect(onClose).not.toHaveBeenCalled();
    expect(
      (byTestId(form.node, 'queries-form-name') as HTMLInputElement).value
    ).toBe('  Renamed ');
    form.node.requestSubmit();
    await settle();
    expect(onClose).toHaveBeenCalled();
    form.node.remove();
  });

  it('refuses an empty name or SQL before calling the server', async () => {
    const submit = jest.fn();
    const form = templateEditForm({
      title: 't',
      testId: 'f',
      submitLabel: 's',
      initial: { name: ' ', description: '', body: 'SELECT 1' },
      parameterNames: [],
      submit,
      onClose: jest.fn()
    });
    form.node.requestSubmit();
    await settle();
    expect(submit).not.toHaveBeenCalled();
    expect(byTestId(form.node, 'queries-form-error').textContent).toBe(
      'Give the template a name.'
    );
  });
});

describe('export with parameters', () => {
  it('asks only when the query declares parameters', () => {
    expect(asksForParameters(saved())).toBe(true);
    expect(asksForParameters(saved({ parameters: [] }))).toBe(false);
  });

  it('sends the values as parameters, none when there are none', () => {
    expect(exportRequest(saved(), 'csv')).toEqual({
      query_id: 'q1',
      format: 'csv'
    });
    expect(exportRequest(saved(), 'parquet', { min_total: 50 })).toEqual({
      query_id: 'q1',
      format: 'parquet',
      parameters: { min_total: 50 }
    });
  });

  it('prefills the fields with the defaults and reads them back as typed values', () => {
    const box = parameterFields(PARAMETERS, { prefill: true });
    const field = (name: string): HTMLInputElement | HTMLSelectElement =>
      box.querySelector<HTMLInputElement>(`[data-param="${name}"]`)!;
    expect(field('country').value).toBe('0');
    expect(field('min_total').value).toBe('10');
    expect(field('day').value).toBe('today-7d');
    expect(field('note').value).toBe('');
    expect(readParameters(PARAMETERS, box)).toEqual({
      country: 'France',
      min_total: 10,
      period: { start: '2026-01-01', end: 'today' },
      day: 'today-7d'
    });
    // Without prefill the defaults stay placeholders and nothing is sent.
    expect(readParameters(PARAMETERS, parameterFields(PARAMETERS))).toEqual({});
  });

  it('runs the export with the values changed in the form; a refusal keeps the form', async () => {
    const run = jest
      .fn()
      .mockRejectedValueOnce(
        new Error('parameters.min_total: must be at least 0')
      )
      .mockResolvedValueOnce(undefined);
    const onClose = jest.fn();
    const form = exportParamsForm({
      queryName: '<img src=x>',
      formatLabel: 'CSV',
      parameters: [PARAMETERS[0], PARAMETERS[1]],
      run,
      onClose
    });
    expect(form.node.querySelector('img')).toBeNull();
    expect(form.node.textContent).toContain('Export “<img src=x>” as CSV');
    const country = form.node.querySelector<HTMLSelectElement>(
      '[data-param="country"]'
    )!;
    country.value = '1';
    const total = form.node.querySelector<HTMLInputElement>(
      '[data-param="min_total"]'
    )!;
    total.value = '-5';
    form.node.requestSubmit();
    await settle();
    expect(run).toHaveBeenLastCalledWith({
      country: 'United Kingdom',
      min_total: -5
    });
    expect(byTestId(form.node, 'queries-form-error').textContent).toContain(
      'must be at least 0'
    );
    expect(onClose).not.toHaveBeenCalled();
    total.value = '5';
    form.node.requestSubmit();
    await settle();
    expect(run).toHaveBeenLastCalledWith({
      country: 'United Kingdom',
      min_total: 5
    });
    expect(onClose).toHaveBeenCalled();
  });
});
