import type {
  IDatasourceChoice,
  IHistoryItem,
  IParameterDefinition,
  IQueryTemplate,
  ISavedQuery
} from '../src/api/queries';
import { AnalyticsAPIError } from '../src/api/request';
import { newQueryForm, templateForm } from '../src/panels/queries/forms';
import {
  parameterFields,
  parameterValue,
  readParameters
} from '../src/panels/queries/params';
import {
  historyRow,
  queryRow,
  templateRow,
  type IQueryRowHandlers
} from '../src/panels/queries/views';

const MARKUP = '<img src=x onerror=alert(1)>';

function saved(extra: Partial<ISavedQuery> = {}): ISavedQuery {
  return {
    id: 'q1',
    name: MARKUP,
    description: '',
    datasource_id: 'ds1',
    sql: 'SELECT 1',
    parameters: [],
    tags: ['sales', '<b>x</b>'],
    owner_id: 'u',
    owner_name: 'me',
    version: 3,
    permission: 'manage',
    created_at: '2026-11-27T10:00:00Z',
    updated_at: '2026-11-27T10:00:00Z',
    ...extra
  };
}

const DATASOURCES: IDatasourceChoice[] = [
  { id: 'ds1', name: 'demo', dialect: 'duckdb', permission: 'manage' },
  { id: 'ds2', name: 'read only', dialect: 'postgresql', permission: 'view' }
];

function handlers(): jest.Mocked<IQueryRowHandlers> {
  return {
    toggleFavorite: jest.fn(),
    open: jest.fn(),
    exportMenu: jest.fn(),
    share: jest.fn(),
    moreMenu: jest.fn(),
    filterTag: jest.fn()
  };
}

const byTestId = (root: Element, id: string): HTMLElement =>
  root.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;

describe('queryRow', () => {
  it('renders the name and tags as text and the star as the server says', () => {
    const row = queryRow(
      saved(),
      { favorite: true, favoritePending: false, datasourceName: 'demo' },
      handlers()
    );
    expect(row.querySelector('img, b')).toBeNull();
    expect(byTestId(row, 'queries-row-name').textContent).toBe(MARKUP);
    expect(
      [...row.querySelectorAll('[data-testid="queries-row-tag"]')].map(
        n => n.textContent
      )
    ).toEqual(['sales', '<b>x</b>']);
    const star = byTestId(row, 'queries-star') as HTMLButtonElement;
    expect(star.getAttribute('aria-pressed')).toBe('true');
    expect(star.getAttribute('aria-label')).toBe(`Unfavorite ${MARKUP}`);
    expect(row.dataset.queryId).toBe('q1');
    expect(byTestId(row, 'queries-row-datasource').textContent).toBe('demo');
  });

  it('calls the handlers; the star is disabled while a toggle is pending', () => {
    const h = handlers();
    const row = queryRow(
      saved(),
      { favorite: false, favoritePending: true, datasourceName: null },
      h
    );
    const star = byTestId(row, 'queries-star') as HTMLButtonElement;
    expect(star.disabled).toBe(true);
    expect(star.getAttribute('aria-pressed')).toBe('false');
    byTestId(row, 'queries-open').click();
    byTestId(row, 'queries-export').click();
    (
      row.querySelector('[data-testid="queries-row-tag"]') as HTMLElement
    ).click();
    expect(h.open).toHaveBeenCalledWith(expect.objectContaining({ id: 'q1' }));
    expect(h.exportMenu).toHaveBeenCalledWith(
      expect.objectContaining({ id: 'q1' }),
      expect.any(HTMLElement)
    );
    expect(h.filterTag).toHaveBeenCalledWith('sales');
    expect(byTestId(row, 'queries-row-datasource').textContent).toBe(
      'unknown datasource'
    );
  });

  it('disables Share without the manage permission', () => {
    const row = queryRow(
      saved({ permission: 'view' }),
      { favorite: false, favoritePending: false, datasourceName: 'demo' },
      handlers()
    );
    expect((byTestId(row, 'queries-share') as HTMLButtonElement).disabled).toBe(
      true
    );
  });
});

describe('historyRow and templateRow', () => {
  const run: IHistoryItem = {
    id: 'r1',
    datasource_id: 'ds1',
    sql: 'SELECT *\n  FROM stores',
    state: 'failed',
    rows: null,
    elapsed_seconds: 0.5,
    cached: false,
    error: 'no such table',
    created_at: '2026-11-27T11:55:00Z',
    finished_at: '2026-11-27T11:55:01Z'
  };

  it('shows the snippet, datasource, state, duration and when', () => {
    const open = jest.fn();
    const save = jest.fn();
    const row = historyRow(
      run,
      new Map(DATASOURCES.map(d => [d.id, d])),
      { open, save },
      new Date('2026-11-27T12:00:00Z')
    );
    expect(byTestId(row, 'queries-history-sql').textContent).toBe(
      'SELECT * FROM stores'
    );
    expect(byTestId(row, 'queries-history-state').textContent).toBe('failed');
    expect(byTestId(row, 'queries-history-state').title).toBe('no such table');
    expect(row.textContent).toContain('demo');
    expect(row.textContent).toContain('0.50 s');
    expect(row.textContent).toContain('5 min ago');
    byTestId(row, 'queries-history-open').click();
    byTestId(row, 'queries-history-save').click();
    expect(open).toHaveBeenCalledWith(run);
    expect(save).toHaveBeenCalledWith(run);
  });

  it('cannot save a run whose datasource is gone', () => {
    const row = historyRow({ ...run, datasource_id: null }, new Map(), {
      open: jest.fn(),
      save: jest.fn()
    });
    expect(
      (byTestId(row, 'queries-history-save') as HTMLButtonElement).disabled
    ).toBe(true);
    expect(row.textContent).toContain('deleted datasource');
  });

  it('offers Use template', () => {
    const template: IQueryTemplate = {
      id: 't1',
      name: MARKUP,
      description: 'd',
      body: 'SELECT 1',
      parameters: [{ name: 'a', type: 'text' }],
      tags: [],
      owner_id: null,
      owner_name: null,
      permission: 'view',
      created_at: '',
      updated_at: ''
    };
    const handlers = {
      use: jest.fn(),
      edit: jest.fn(),
      remove: jest.fn(),
      share: jest.fn()
    };
    const row = templateRow(template, handlers);
    expect(row.querySelector('img')).toBeNull();
    expect(row.textContent).toContain('1 parameter');
    byTestId(row, 'queries-template-use').click();
    expect(handlers.use).toHaveBeenCalledWith(template);
  });

  describe('template actions follow the level the server returned', () => {
    const template = (
      permission: 'view' | 'edit' | 'manage'
    ): IQueryTemplate => ({
      id: 't1',
      name: MARKUP,
      description: '',
      body: 'SELECT 1',
      parameters: [],
      tags: [],
      owner_id: 'u2',
      owner_name: 'ann',
      permission,
      created_at: '',
      updated_at: ''
    });
    const shown = (row: Element): string[] =>
      ['use', 'edit', 'share', 'delete'].filter(
        action =>
          row.querySelector(`[data-testid="queries-template-${action}"]`) !==
          null
      );

    it('view: Use only, and says the level and owner', () => {
      const row = templateRow(template('view'), {
        use: jest.fn(),
        edit: jest.fn(),
        remove: jest.fn(),
        share: jest.fn()
      });
      expect(shown(row)).toEqual(['use']);
      expect(byTestId(row, 'queries-template-level').textContent).toBe(
        'view · ann'
      );
    });

    it('edit: Use and Edit', () => {
      const row = templateRow(template('edit'), {
        use: jest.fn(),
        edit: jest.fn(),
        remove: jest.fn(),
        share: jest.fn()
      });
      expect(shown(row)).toEqual(['use', 'edit']);
    });

    it('manage: every action, each calling its handler with the template', () => {
      const handlers = {
        use: jest.fn(),
        edit: jest.fn(),
        remove: jest.fn(),
        share: jest.fn()
      };
      const t = template('manage');
      const row = templateRow(t, handlers);
      expect(shown(row)).toEqual(['use', 'edit', 'share', 'delete']);
      expect(
        row.querySelector('[data-testid="queries-template-level"]')
      ).toBeNull();
      byTestId(row, 'queries-template-edit').click();
      byTestId(row, 'queries-template-share').click();
      byTestId(row, 'queries-template-delete').click();
      expect(handlers.edit).toHaveBeenCalledWith(t);
      expect(handlers.share).toHaveBeenCalledWith(t);
      expect(handlers.remove).toHaveBeenCalledWith(t);
      // Names in accessible labels stay text too.
      expect(row.querySelector('img')).toBeNull();
      expect(
        byTestId(row, 'queries-template-edit').getAttribute('aria-label')
      ).toBe(`Edit ${MARKUP}`);
    });
  });
});

describe('template parameters', () => {
  const definitions: IParameterDefinition[] = [
    {
      name: 'country',
      type: 'enum',
      options: ['France', 7],
      default: 'France'
    },
    { name: 'top', type: 'number', integer: true },
    { name: 'period', type: 'date_range' },
    { name: 'note', type: 'text', label: 'Note' }
  ];

  it('reads typed values and leaves empty fields to the defaults', () => {
    const box = parameterFields(definitions);
    expect(box.querySelectorAll('label')).toHaveLength(4);
    (box.querySelector('[data-param="country"]') as HTMLSelectElement).value =
      '1';
    (box.querySelector('[data-param="top"]') as HTMLInputElement).value = '10';
    (box.querySelector('[data-part="start"]') as HTMLInputElement).value =
      '2026-01-01';
    (box.querySelector('[data-part="end"]') as HTMLInputElement).value =
      'today';
    expect(readParameters(definitions, box)).toEqual({
      country: 7,
      top: 10,
      period: { start: '2026-01-01', end: 'today' }
    });
  });

  it('names the parameter when a value does not fit', () => {
    expect(() => parameterValue(definitions[1], '1.5')).toThrow(
      'top: must be a whole number.'
    );
    expect(() => parameterValue(definitions[1], 'ten')).toThrow(
      'top: "ten" is not a number.'
    );
    expect(() =>
      parameterValue(definitions[2], { start: '2026-01-01', end: '' })
    ).toThrow('period: give both the start and the end date.');
    expect(parameterValue(definitions[3], '  ')).toBeUndefined();
  });
});

describe('forms', () => {
  function flush(): Promise<void> {
    return new Promise(resolve => setTimeout(resolve, 0));
  }

  it('offers only datasources the user may use', () => {
    const form = newQueryForm({
      datasources: DATASOURCES,
      save: jest.fn(),
      onClose: jest.fn()
    });
    const options = [
      ...byTestId(form.node, 'queries-form-datasource').querySelectorAll(
        'option'
      )
    ];
    expect(options.map(o => o.textContent)).toEqual(['demo (duckdb)']);
  });

  it('keeps the form open with the server message, sends once while pending', async () => {
    let reject: (error: unknown) => void = () => undefined;
    const save = jest.fn(() => new Promise<void>((_, fail) => (reject = fail)));
    const onClose = jest.fn();
    const form = newQueryForm({
      datasources: DATASOURCES,
      prefill: { sql: 'SELECT 1', datasource_id: 'ds1' },
      save,
      onClose
    });
    document.body.append(form.node);
    (byTestId(form.node, 'queries-form-name') as HTMLInputElement).value =
      ' Sales ';
    (byTestId(form.node, 'queries-form-tags') as HTMLInputElement).value =
      'a, b, a';
    const submit = byTestId(
      form.node,
      'queries-form-submit'
    ) as HTMLButtonElement;
    form.node.requestSubmit(submit);
    form.node.requestSubmit(submit);
    expect(submit.disabled).toBe(true);
    expect(save).toHaveBeenCalledTimes(1);
    expect(save).toHaveBeenCalledWith({
      name: 'Sales',
      datasource_id: 'ds1',
      sql: 'SELECT 1',
      tags: ['a', 'b'],
      description: ''
    });
    const response = new Response('{}', { status: 409 });
    reject(
      new AnalyticsAPIError(
        response,
        'you already have a query named "Sales"',
        null
      )
    );
    await flush();
    expect(onClose).not.toHaveBeenCalled();
    expect(submit.disabled).toBe(false);
    const error = byTestId(form.node, 'queries-form-error');
    expect(error.hidden).toBe(false);
    expect(error.textContent).toBe('you already have a query named "Sales"');
    form.node.remove();
  });

  it('checks for a name before calling the server, and closes on success', async () => {
    const save = jest.fn(() => Promise.resolve());
    const onClose = jest.fn();
    const form = newQueryForm({
      datasources: DATASOURCES,
      prefill: { sql: 'SELECT 1' },
      save,
      onClose
    });
    form.node.requestSubmit();
    await flush();
    expect(save).not.toHaveBeenCalled();
    expect(byTestId(form.node, 'queries-form-error').textContent).toBe(
      'Give the query a name.'
    );
    (byTestId(form.node, 'queries-form-name') as HTMLInputElement).value = 'ok';
    form.node.requestSubmit();
    await flush();
    expect(save).toHaveBeenCalledTimes(1);
    expect(onClose).toHaveBeenCalled();
  });

  it('instantiates a template with its parameter values', async () => {
    const instantiate = jest.fn(() => Promise.resolve());
    const form = templateForm({
      templateName: 'Stores',
      parameters: [
        { name: 'country', type: 'enum', options: ['France', 'Spain'] }
      ],
      datasources: DATASOURCES,
      instantiate,
      onClose: jest.fn()
    });
    (
      form.node.querySelector('[data-param="country"]') as HTMLSelectElement
    ).value = '1';
    form.node.requestSubmit();
    await flush();
    expect(instantiate).toHaveBeenCalledWith({
      name: 'Stores',
      datasource_id: 'ds1',
      parameters: { country: 'Spain' }
    });
  });
});
