/**
 * The generated settings form. SERVER_SCHEMA is `UserSettings.model_json_schema()`
 * exactly as `GET api/user/settings/schema` answers (pydantic's $defs, $ref,
 * anyOf-with-null, enums, bounds and a `not`); tests add properties to copies of it.
 */
import type { IJSONSchema, JSONObject } from '../src/api/account';
import type { IDatasource, IDatasourcePage } from '../src/api/datasources';
import { AnalyticsAPIError } from '../src/api/request';
import {
  diffSettings,
  fieldProblems,
  resolveSchema,
  validateValue
} from '../src/panels/account/schema';
import { datasourceChoices } from '../src/panels/account/settings';
import {
  type ChoiceProviders,
  type IChoice,
  choiceNames
} from '../src/panels/account/settings-choices';
import { SettingsForm } from '../src/panels/account/settings-form';

const SERVER_SCHEMA: IJSONSchema = {
  $defs: {
    Notifications: {
      additionalProperties: false,
      description: 'Which events send the user an email.',
      properties: {
        email_on_share: {
          default: true,
          description:
            'Email me when someone shares a query, chart or dashboard with me.',
          title: 'Email On Share',
          type: 'boolean'
        },
        email_on_comment: {
          default: true,
          description: 'Email me when someone comments on something I own.',
          title: 'Email On Comment',
          type: 'boolean'
        }
      },
      title: 'Notifications',
      type: 'object'
    },
    SqlFormatting: {
      additionalProperties: false,
      description: 'How the SQL editor\'s "Format" command lays out a query.',
      properties: {
        keyword_case: {
          default: 'upper',
          description:
            'Case of SQL keywords: upper, lower, or as typed (preserve).',
          enum: ['upper', 'lower', 'preserve'],
          title: 'Keyword Case',
          type: 'string'
        },
        indent: {
          default: 2,
          description: 'Spaces per indentation level (2 to 8).',
          maximum: 8,
          minimum: 2,
          title: 'Indent',
          type: 'integer'
        }
      },
      title: 'SqlFormatting',
      type: 'object'
    }
  },
  additionalProperties: false,
  description:
    "A user's preferences. Every field has a default; unset fields take it.",
  properties: {
    version: {
      default: 1,
      description:
        'Layout version of this document; the server upgrades older ones.',
      maximum: 1,
      minimum: 1,
      readOnly: true,
      title: 'Version',
      type: 'integer'
    },
    default_datasource_id: {
      anyOf: [
        {
          pattern: '^[A-Za-z0-9_-]{22}$',
          type: 'string'
        },
        {
          type: 'null'
        }
      ],
      default: null,
      description:
        'Datasource selected for new queries; none means ask each time.',
      title: 'Default datasource',
      'x-choices': 'datasources'
    } as IJSONSchema,
    default_row_limit: {
      default: 1000,
      description:
        'Rows a query or preview returns when it sets no limit (1 to 1,000,000).',
      maximum: 1000000,
      minimum: 1,
      title: 'Default Row Limit',
      type: 'integer'
    },
    sql_formatting: {
      $ref: '#/$defs/SqlFormatting',
      description: 'How the SQL editor formats queries.'
    },
    date_format: {
      default: 'YYYY-MM-DD',
      description: 'How dates are shown in results.',
      enum: [
        'YYYY-MM-DD',
        'DD/MM/YYYY',
        'MM/DD/YYYY',
        'DD.MM.YYYY',
        'D MMM YYYY'
      ],
      title: 'Date Format',
      type: 'string'
    },
    chart_theme: {
      default: 'auto',
      description:
        "Chart colours: light, dark, or follow JupyterLab's theme (auto).",
      enum: ['light', 'dark', 'auto'],
      title: 'Chart Theme',
      type: 'string'
    },
    chart_palette: {
      default: 'category10',
      description: "Colour palette of new charts' series.",
      enum: ['category10', 'tableau10', 'viridis', 'colorblind'],
      title: 'Chart Palette',
      type: 'string'
    },
    notifications: {
      $ref: '#/$defs/Notifications',
      description: 'Email notifications.'
    },
    dashboard_refresh_seconds: {
      default: 0,
      description:
        'Auto-refresh interval of dashboards in seconds: 0 (off) or 30 to 86400.',
      maximum: 86400,
      minimum: 0,
      not: {
        maximum: 29,
        minimum: 1,
        type: 'integer'
      },
      title: 'Dashboard Refresh Seconds',
      type: 'integer'
    }
  },
  title: 'UserSettings',
  type: 'object'
};

/** The document `GET api/user/settings` answers for a new user (every default). */
const DEFAULTS: JSONObject = {
  version: 1,
  default_datasource_id: null,
  default_row_limit: 1000,
  sql_formatting: { keyword_case: 'upper', indent: 2 },
  date_format: 'YYYY-MM-DD',
  chart_theme: 'auto',
  chart_palette: 'category10',
  notifications: { email_on_share: true, email_on_comment: true },
  dashboard_refresh_seconds: 0
};

/** What the server does with a PATCH: nested objects merge field by field. */
function merge(document: JSONObject, changes: JSONObject): JSONObject {
  const result = clone(document);
  for (const [key, value] of Object.entries(changes)) {
    const old = result[key];
    result[key] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      old &&
      typeof old === 'object' &&
      !Array.isArray(old)
        ? merge(old, value)
        : value;
  }
  return result;
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A form in the document, with a `save` that records what it was sent. */
function makeForm(
  schema: IJSONSchema = SERVER_SCHEMA,
  values: JSONObject = DEFAULTS,
  save: (changes: JSONObject) => Promise<JSONObject> = async changes =>
    merge(values, changes)
): { form: SettingsForm; sent: JSONObject[] } {
  const sent: JSONObject[] = [];
  const form = new SettingsForm(schema, clone(values), {
    idPrefix: 't',
    save: changes => {
      sent.push(changes);
      return save(changes);
    }
  });
  document.body.replaceChildren(form.node);
  return { form, sent };
}

/** The control labelled `label` (through `<label for>`), as a user finds it. */
function byLabel<T extends HTMLElement = HTMLInputElement>(label: string): T {
  const labels = [...document.querySelectorAll('label')].filter(
    node => node.textContent === label
  );
  expect(labels).toHaveLength(1);
  const control = document.getElementById(labels[0].htmlFor);
  expect(control).not.toBeNull();
  return control as T;
}

function change(
  control: HTMLInputElement | HTMLSelectElement,
  value: string
): void {
  control.value = value;
  control.dispatchEvent(new Event('input', { bubbles: true }));
}

describe('SettingsForm is generated from the schema', () => {
  it('renders a labelled field for a property the schema adds', () => {
    const schema = clone(SERVER_SCHEMA);
    schema.properties!.favorite_color = {
      type: 'string',
      title: 'Favorite color',
      description: 'The colour you like best.',
      default: 'teal'
    };
    makeForm(schema, DEFAULTS);
    const input = byLabel('Favorite color');
    expect(input.tagName).toBe('INPUT');
    expect(input.type).toBe('text');
    expect(input.value).toBe('teal'); // the schema default: the document has no value yet
    const help = document.getElementById(
      input.getAttribute('aria-describedby')!.split(' ')[0]
    );
    expect(help?.textContent).toBe('The colour you like best.');
    // and without the property, no such field
    makeForm();
    expect(
      [...document.querySelectorAll('label')].some(
        node => node.textContent === 'Favorite color'
      )
    ).toBe(false);
  });

  it('renders one field per property of the real schema, nested ones in fieldsets', () => {
    const { form } = makeForm();
    expect(form.paths).toEqual([
      'version',
      'default_datasource_id',
      'default_row_limit',
      'sql_formatting.keyword_case',
      'sql_formatting.indent',
      'date_format',
      'chart_theme',
      'chart_palette',
      'notifications.email_on_share',
      'notifications.email_on_comment',
      'dashboard_refresh_seconds'
    ]);
    const legends = [...document.querySelectorAll('fieldset > legend')].map(
      node => node.textContent
    );
    // A $ref property's label is its key, not the $defs class name.
    expect(legends).toEqual(['Sql formatting', 'Notifications']);
    const group = document.querySelector(
      '[data-testid="settings-group-sql_formatting"]'
    )!;
    expect(group.textContent).toContain('How the SQL editor formats queries.');
  });

  it('maps each type to its control', () => {
    makeForm();
    const theme = byLabel<HTMLSelectElement>('Chart Theme');
    expect(theme.tagName).toBe('SELECT');
    expect([...theme.options].map(option => option.textContent)).toEqual([
      'light',
      'dark',
      'auto'
    ]);
    expect(theme.selectedOptions[0].textContent).toBe('auto');

    const limit = byLabel('Default Row Limit');
    expect(limit.type).toBe('number');
    expect([limit.min, limit.max, limit.step, limit.value]).toEqual([
      '1',
      '1000000',
      '1',
      '1000'
    ]);
    expect(limit.required).toBe(true);

    const share = byLabel('Email On Share');
    expect(share.type).toBe('checkbox');
    expect(share.checked).toBe(true);

    // anyOf [string with pattern, null]: optional text, empty means null
    const datasource = byLabel('Default datasource');
    expect(datasource.type).toBe('text');
    expect(datasource.pattern).toBe('^[A-Za-z0-9_-]{22}$');
    expect(datasource.required).toBe(false);
    expect(datasource.value).toBe('');

    // readOnly: the value as text, no control to type in
    const version = byLabel<HTMLOutputElement>('Version');
    expect(version.tagName).toBe('OUTPUT');
    expect(version.textContent).toBe('1');
  });

  it('shows a fixed number (minimum == maximum) in a read-only input', () => {
    const schema: IJSONSchema = {
      type: 'object',
      properties: {
        level: { type: 'integer', minimum: 3, maximum: 3, title: 'Level' }
      }
    };
    const { form } = makeForm(schema, { level: 3 });
    const level = byLabel('Level');
    expect([level.tagName, level.readOnly, level.value]).toEqual([
      'INPUT',
      true,
      '3'
    ]);
    expect(form.changes()).toEqual({});
  });

  it('handles formats, numbers, optional enums and arrays of enums', () => {
    const schema: IJSONSchema = {
      type: 'object',
      properties: {
        contact: { type: 'string', format: 'email', title: 'Contact' },
        ratio: { type: 'number', minimum: 0, maximum: 1, title: 'Ratio' },
        size: {
          anyOf: [{ enum: ['s', 'm'], type: 'string' }, { type: 'null' }],
          title: 'Size'
        },
        flag: { anyOf: [{ type: 'boolean' }, { type: 'null' }], title: 'Flag' },
        days: {
          type: 'array',
          title: 'Days',
          items: { $ref: '#/$defs/Day' },
          minItems: 1,
          default: ['mon']
        }
      },
      $defs: { Day: { enum: ['mon', 'tue', 'wed'], type: 'string' } }
    };
    const { form } = makeForm(schema, {
      contact: 'a@b.org',
      ratio: 0.5,
      size: null,
      flag: null
    });
    expect(byLabel('Contact').type).toBe('email');
    expect(byLabel('Ratio').step).toBe('any');
    const size = byLabel<HTMLSelectElement>('Size');
    expect([...size.options].map(option => option.textContent)).toEqual([
      'None',
      's',
      'm'
    ]);
    expect(size.value).toBe('');
    const flag = byLabel<HTMLSelectElement>('Flag');
    expect([...flag.options].map(option => option.textContent)).toEqual([
      'None',
      'Yes',
      'No'
    ]);
    const days = document.querySelector('[data-testid="settings-field-days"]')!;
    expect(days.querySelector('legend')?.textContent).toBe('Days');
    expect(byLabel('mon').checked).toBe(true);
    byLabel('wed').checked = true;
    change(size, '1');
    change(flag, '1');
    expect(form.changes()).toEqual({
      size: 'm',
      flag: false,
      days: ['mon', 'wed']
    });
    byLabel('mon').checked = false;
    byLabel('wed').checked = false;
    expect(form.read()).toEqual({
      problems: new Map([['days', 'choose at least one']])
    });
  });
});

describe('SettingsForm saves only what changed', () => {
  it('sends a PATCH with the changed fields, nested ones field by field', async () => {
    const { form, sent } = makeForm();
    change(byLabel<HTMLSelectElement>('Chart Theme'), '1'); // dark
    change(byLabel('Indent'), '4');
    byLabel('Email On Comment').checked = false;
    await form.submit();
    expect(sent).toEqual([
      {
        sql_formatting: { indent: 4 },
        chart_theme: 'dark',
        notifications: { email_on_comment: false }
      }
    ]);
    expect(
      document.querySelector('[data-testid="account-settings-status"]')
        ?.textContent
    ).toBe('Settings saved.');
    // The saved document is the new baseline: saving again sends nothing.
    await form.submit();
    expect(sent).toHaveLength(1);
    expect(
      document.querySelector('[data-testid="account-settings-status"]')
        ?.textContent
    ).toBe('Nothing to save.');
  });

  it('sends null when an optional field is cleared', async () => {
    const { form, sent } = makeForm(SERVER_SCHEMA, {
      ...DEFAULTS,
      default_datasource_id: 'abcdefghijklmnopqrstuv'
    });
    change(byLabel('Default datasource'), '');
    await form.submit();
    expect(sent).toEqual([{ default_datasource_id: null }]);
  });

  it('refuses what the schema forbids before sending, next to the field', async () => {
    const { form, sent } = makeForm();
    const refresh = byLabel('Dashboard Refresh Seconds');
    change(refresh, '10'); // the schema's `not`: 1..29 is refused
    await form.submit();
    expect(sent).toEqual([]);
    const problem = document.querySelector(
      '[data-testid="settings-problem-dashboard_refresh_seconds"]'
    ) as HTMLElement;
    expect(problem.hidden).toBe(false);
    expect(problem.textContent).toBe('must not be between 1 and 29');
    expect(refresh.getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(refresh);
    change(byLabel('Indent'), '');
    expect(form.read()).toEqual({
      problems: new Map([
        ['sql_formatting.indent', 'is required'],
        ['dashboard_refresh_seconds', 'must not be between 1 and 29']
      ])
    });
  });

  it('shows the server 4xx next to the field it names, and keeps what was typed', async () => {
    const { form, sent } = makeForm(SERVER_SCHEMA, DEFAULTS, async () => {
      throw new AnalyticsAPIError(
        new Response(null, { status: 422 }),
        'default_row_limit: Input should be less than or equal to 1000000; version: stale',
        null
      );
    });
    const limit = byLabel('Default Row Limit');
    change(limit, '5000');
    await form.submit();
    expect(sent).toEqual([{ default_row_limit: 5000 }]);
    const problem = document.querySelector(
      '[data-testid="settings-problem-default_row_limit"]'
    ) as HTMLElement;
    expect(problem.textContent).toBe(
      'Input should be less than or equal to 1000000'
    );
    const summary = document.querySelector(
      '[data-testid="account-settings-error"]'
    ) as HTMLElement;
    expect(summary.hidden).toBe(false);
    expect(summary.textContent).toContain(
      'Default Row Limit: Input should be less than or equal to 1000000'
    );
    expect(summary.textContent).toContain('Version: stale');
    expect(limit.value).toBe('5000');
    expect(form.changes()).toEqual({ default_row_limit: 5000 });
    const save = document.querySelector(
      '[data-testid="account-settings-save"]'
    ) as HTMLButtonElement;
    expect(save.disabled).toBe(false);
  });

  it('disables Save while a save is pending', async () => {
    let finish: (value: JSONObject) => void = () => undefined;
    const { form, sent } = makeForm(
      SERVER_SCHEMA,
      DEFAULTS,
      () => new Promise(resolve => (finish = resolve))
    );
    change(byLabel('Indent'), '3');
    const first = form.submit();
    const save = document.querySelector(
      '[data-testid="account-settings-save"]'
    ) as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    await form.submit(); // ignored while pending
    expect(sent).toHaveLength(1);
    finish({
      ...DEFAULTS,
      sql_formatting: { keyword_case: 'upper', indent: 3 }
    });
    await first;
    expect(save.disabled).toBe(false);
  });

  it('sets names as text', () => {
    const schema: IJSONSchema = {
      type: 'object',
      properties: {
        x: {
          type: 'string',
          title: '<img src=x onerror=alert(1)>',
          description: '<b>hi</b>'
        }
      }
    };
    makeForm(schema, {});
    expect(document.querySelector('img')).toBeNull();
    expect(document.querySelector('b')).toBeNull();
  });
});

const DEMO = 'd'.repeat(22);
const WAREHOUSE = 'w'.repeat(22);
const GONE = 'g'.repeat(22);

/** The two datasources a provider lists, and how often it was asked. */
function datasourceProvider(): {
  provider: () => Promise<IChoice[]>;
  calls: () => number;
} {
  let calls = 0;
  return {
    provider: async () => {
      calls++;
      return [
        { value: DEMO, label: 'Demo (duckdb)' },
        { value: WAREHOUSE, label: 'Warehouse (postgresql)' }
      ];
    },
    calls: () => calls
  };
}

/** `SettingsForm.create` with choice providers, recording what it sends. */
async function makeChoiceForm(
  values: JSONObject,
  choices: ChoiceProviders,
  schema: IJSONSchema = SERVER_SCHEMA
): Promise<{ form: SettingsForm; sent: JSONObject[] }> {
  const sent: JSONObject[] = [];
  const form = await SettingsForm.create(schema, clone(values), {
    idPrefix: 't',
    save: async changes => {
      sent.push(changes);
      return merge(values, changes);
    },
    choices
  });
  document.body.replaceChildren(form.node);
  return { form, sent };
}

function optionTexts(select: HTMLSelectElement): (string | null)[] {
  return [...select.options].map(option => option.textContent);
}

describe('SettingsForm choice lists (x-choices)', () => {
  it('renders a property naming a list as a select the provider fills', async () => {
    const { provider, calls } = datasourceProvider();
    const { form, sent } = await makeChoiceForm(
      { ...DEFAULTS, default_datasource_id: DEMO },
      { datasources: provider }
    );
    const select = byLabel<HTMLSelectElement>('Default datasource');
    expect(select.tagName).toBe('SELECT');
    expect(optionTexts(select)).toEqual([
      'None',
      'Demo (duckdb)',
      'Warehouse (postgresql)'
    ]);
    expect(select.selectedOptions[0].textContent).toBe('Demo (duckdb)');
    expect(calls()).toBe(1);
    expect(form.changes()).toEqual({});
    change(select, '1'); // Warehouse: the option's index
    await form.submit();
    change(select, ''); // None
    await form.submit();
    expect(sent).toEqual([
      { default_datasource_id: WAREHOUSE },
      { default_datasource_id: null }
    ]);
  });

  it('works for any property of the schema, and a required one has no None', async () => {
    const schema = clone(SERVER_SCHEMA);
    schema.properties!.home_team = {
      type: 'string',
      title: 'Home team',
      'x-choices': 'teams'
    } as IJSONSchema;
    let teamCalls = 0;
    const { form } = await makeChoiceForm(
      { ...DEFAULTS, home_team: 'b' },
      {
        teams: async () => {
          teamCalls++;
          return [
            { value: 'a', label: 'Analysts' },
            { value: 'b', label: 'Builders' }
          ];
        }
      },
      schema
    );
    const team = byLabel<HTMLSelectElement>('Home team');
    expect(optionTexts(team)).toEqual(['Analysts', 'Builders']);
    expect(team.selectedOptions[0].textContent).toBe('Builders');
    expect(teamCalls).toBe(1);
    // No provider for `datasources` here: that property stays a text field.
    expect(byLabel('Default datasource').tagName).toBe('INPUT');
    change(team, '0');
    expect(form.changes()).toEqual({ home_team: 'a' });
  });

  it('keeps a stored value the list lacks, rather than replacing it', async () => {
    const { provider } = datasourceProvider();
    const { form, sent } = await makeChoiceForm(
      { ...DEFAULTS, default_datasource_id: GONE },
      { datasources: provider }
    );
    const select = byLabel<HTMLSelectElement>('Default datasource');
    expect(select.selectedOptions[0].textContent).toBe(
      `${GONE} (not available)`
    );
    change(byLabel('Indent'), '4');
    await form.submit();
    expect(sent).toEqual([{ sql_formatting: { indent: 4 } }]);
  });

  it('falls back to the text field, saying why, when the provider fails', async () => {
    const { form, sent } = await makeChoiceForm(
      { ...DEFAULTS, default_datasource_id: DEMO },
      {
        datasources: async () => {
          throw new AnalyticsAPIError(
            new Response(null, { status: 503 }),
            'the store is busy',
            null
          );
        }
      }
    );
    const input = byLabel('Default datasource');
    expect([input.tagName, input.type, input.value]).toEqual([
      'INPUT',
      'text',
      DEMO
    ]);
    expect(input.pattern).toBe('^[A-Za-z0-9_-]{22}$');
    const note = document.querySelector(
      '[data-testid="settings-choices-problem-default_datasource_id"]'
    );
    expect(note?.textContent).toContain('the store is busy');
    // The rest of the form is unaffected and still saves.
    change(input, WAREHOUSE);
    await form.submit();
    expect(sent).toEqual([{ default_datasource_id: WAREHOUSE }]);
  });

  it('asks only the providers the schema names', async () => {
    const { provider, calls } = datasourceProvider();
    let other = 0;
    await makeChoiceForm(DEFAULTS, {
      datasources: provider,
      unused: async () => {
        other++;
        return [];
      }
    });
    expect([calls(), other]).toEqual([1, 0]);
    expect(choiceNames(SERVER_SCHEMA)).toEqual(new Set(['datasources']));
  });

  it('lists every datasource page by name for the Account tab', async () => {
    const asked: (string | null)[] = [];
    const item = (id: string, name: string) =>
      ({ id, name, dialect: 'duckdb' }) as IDatasource;
    const pages: Record<string, IDatasourcePage> = {
      first: { items: [item(DEMO, 'Demo')], next: 'p2', total: 2 },
      p2: { items: [item(WAREHOUSE, 'Sales')], next: null, total: 2 }
    };
    const choices = await datasourceChoices({
      list: async (cursor: string | null = null) => {
        asked.push(cursor);
        return pages[cursor ?? 'first'];
      }
    });
    expect(asked).toEqual([null, 'p2']);
    expect(choices).toEqual([
      { value: DEMO, label: 'Demo (duckdb)' },
      { value: WAREHOUSE, label: 'Sales (duckdb)' }
    ]);
  });
});

describe('SettingsForm read-only properties', () => {
  const schema: IJSONSchema = {
    type: 'object',
    properties: {
      revision: { type: 'integer', readOnly: true, title: 'Revision' },
      owner: {
        type: 'object',
        title: 'Owner',
        properties: {
          name: { type: 'string', title: 'Name' },
          since: { type: 'string', readOnly: true, title: 'Since' }
        }
      }
    }
  };

  it('render as text, not as a control', () => {
    makeForm(schema, { revision: 7, owner: { name: 'ada', since: '2026' } });
    const revision = byLabel<HTMLOutputElement>('Revision');
    expect([revision.tagName, revision.textContent]).toEqual(['OUTPUT', '7']);
    expect(byLabel('Since').textContent).toBe('2026');
    expect(document.querySelectorAll('input, select, textarea')).toHaveLength(
      1
    );
  });

  it('are never in the PATCH, even when the saved document changes them', async () => {
    const { form, sent } = makeForm(schema, {
      revision: 7,
      owner: { name: 'ada', since: '2026' }
    });
    expect(form.read()).toEqual({ value: { owner: { name: 'ada' } } });
    change(byLabel('Name'), 'grace');
    await form.submit();
    expect(sent).toEqual([{ owner: { name: 'grace' } }]);
    // The server's answer moves the read-only values on; nothing to send then.
    form.reset({ revision: 8, owner: { name: 'grace', since: '2027' } });
    expect(byLabel('Revision').textContent).toBe('8');
    expect(form.changes()).toEqual({});
  });

  it('leave the real schema version out of every save', async () => {
    const { form, sent } = makeForm(SERVER_SCHEMA, { ...DEFAULTS, version: 1 });
    change(byLabel<HTMLSelectElement>('Chart Theme'), '0');
    await form.submit();
    expect(sent).toEqual([{ chart_theme: 'light' }]);
    expect(form.changes()).toEqual({});
  });
});

describe('schema helpers', () => {
  it('resolves $ref with sibling keywords winning, and anyOf with null', () => {
    const resolved = resolveSchema(
      SERVER_SCHEMA.properties!.sql_formatting,
      SERVER_SCHEMA
    );
    expect(resolved.nullable).toBe(false);
    expect(resolved.schema.description).toBe(
      'How the SQL editor formats queries.'
    );
    expect(Object.keys(resolved.schema.properties!)).toEqual([
      'keyword_case',
      'indent'
    ]);
    const optional = resolveSchema(
      {
        anyOf: [{ $ref: '#/$defs/Notifications' }, { type: 'null' }],
        title: 'N'
      },
      SERVER_SCHEMA
    );
    expect(optional.nullable).toBe(true);
    expect(optional.schema.title).toBe('N');
    expect(optional.schema.type).toBe('object');
    expect(resolveSchema({ type: ['integer', 'null'] }, {})).toEqual({
      schema: { type: 'integer' },
      nullable: true
    });
    expect(() =>
      resolveSchema({ $ref: '#/$defs/Missing' }, SERVER_SCHEMA)
    ).toThrow('$ref #/$defs/Missing points nowhere');
    const loop: IJSONSchema = { $defs: { A: { $ref: '#/$defs/A' } } };
    expect(() => resolveSchema({ $ref: '#/$defs/A' }, loop)).toThrow(
      'circular'
    );
  });

  it('validates bounds, patterns, lengths, enums and not', () => {
    const refresh = SERVER_SCHEMA.properties!.dashboard_refresh_seconds;
    expect(validateValue(refresh, 0)).toBeNull();
    expect(validateValue(refresh, 30)).toBeNull();
    expect(validateValue(refresh, 29)).toBe('must not be between 1 and 29');
    expect(validateValue(refresh, 86401)).toBe('must be at most 86400');
    expect(validateValue(refresh, 1.5)).toBe('must be a whole number');
    expect(validateValue({ type: 'string', pattern: '^a+$' }, 'b')).toBe(
      'must match the pattern ^a+$'
    );
    expect(validateValue({ type: 'string', minLength: 1 }, '')).toBe(
      'must not be empty'
    );
    expect(validateValue({ type: 'string', maxLength: 2 }, 'abc')).toBe(
      'must be at most 2 characters'
    );
    expect(validateValue({ enum: ['a'] }, 'b')).toBe('must be one of "a"');
  });

  it('diffs documents into a merge patch', () => {
    const after = clone(DEFAULTS);
    expect(diffSettings(DEFAULTS, after)).toEqual({});
    (after.sql_formatting as JSONObject).keyword_case = 'lower';
    after.default_datasource_id = 'x';
    expect(diffSettings(DEFAULTS, after)).toEqual({
      default_datasource_id: 'x',
      sql_formatting: { keyword_case: 'lower' }
    });
    expect(diffSettings({ tags: ['a'] }, { tags: ['a', 'b'] })).toEqual({
      tags: ['a', 'b']
    });
    expect(diffSettings({ o: null }, { o: { a: 1 } })).toEqual({ o: { a: 1 } });
  });

  it('places server problems on known fields, the rest unplaced', () => {
    const problems = fieldProblems(
      'body.sql_formatting.indent: too big; nonsense happened; chart_theme: bad',
      new Set(['sql_formatting.indent', 'chart_theme'])
    );
    expect([...problems]).toEqual([
      ['sql_formatting.indent', 'too big'],
      ['', 'nonsense happened'],
      ['chart_theme', 'bad']
    ]);
  });
});
