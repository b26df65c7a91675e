/**
 * The inputs of the Add / Edit datasource form: name, kind, the connection
 * fields of the kind's shape (a URL, a server, or a file) and the query
 * options, each with its label, and what they hold as form values. Apart
 * from `form.ts`, which holds what the form does (Test, Save, errors), so
 * that module reads as the flow and this one as the fields.
 */
import type { IDatasource } from '../../api/datasources';
import { h } from '../../ui/dom';
import {
  KINDS,
  KIND_ORDER,
  type DatasourceKind,
  type IDatasourceFormValues
} from './form-model';

/** The class prefix of the form and its parts. */
export const CSS = 'jp-AnalyticsDatasourceForm';

type TextField = Exclude<keyof IDatasourceFormValues, 'kind' | 'readOnly'>;

/** Makes the ids (for labels) of each form unique in the page. */
let formCounter = 0;

/** The form's fields; only the kind's shape of connection fields shows. */
export class DatasourceFields {
  /**
   * @param values - what the fields show first.
   * @param saved - the datasource being edited (its password is never sent
   *   back: the password fields say it is kept when left empty).
   */
  constructor(values: IDatasourceFormValues, saved: IDatasource | null) {
    this._uid = `jp-AnalyticsDatasourceForm-${++formCounter}`;
    this.node = this._build(values, saved);
    this._showKind(values.kind);
  }

  /** The `<form>`; Enter in it does not submit the page. */
  readonly node: HTMLFormElement;

  /** What the fields hold now. */
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

  private _build(
    values: IDatasourceFormValues,
    saved: IDatasource | null
  ): HTMLFormElement {
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

    const keepPassword = saved?.has_password
      ? 'saved; leave empty to keep it'
      : '';
    const password = (group: string): HTMLElement =>
      this._field('password', 'Password', '', {
        type: 'password',
        autocomplete: 'new-password',
        placeholder: keepPassword,
        group
      });

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
        password('url')
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
        password('server')
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
    return form;
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

  private readonly _uid: string;
  private readonly _inputs: Partial<Record<TextField, HTMLInputElement>> = {};
  private readonly _grouped = new Map<string, HTMLInputElement>();
  private readonly _groups = new Map<string, HTMLElement>();
  private _kind!: HTMLSelectElement;
  private _readOnly!: HTMLInputElement;
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
