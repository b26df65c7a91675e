/**
 * Query templates made from saved queries, and what a caller may do with a
 * template. Pure functions (no DOM, no network), so Jest checks them.
 *
 * A saved query's SQL writes its parameters as `:name` placeholders; a
 * template body is sandboxed Jinja2 in which `{{ name }}` renders that same
 * placeholder (`analytics_ext/engine/templating.py`). So "Save as template"
 * rewrites each placeholder of a declared parameter to `{{ name }}` and keeps
 * every other character as literal text: Jinja delimiters already in the SQL
 * (`{{`, `{%`, `{#`, e.g. inside a string literal) are escaped, so the
 * template renders back exactly the query's SQL.
 */
import type {
  IParameterDefinition,
  IQueryTemplate,
  IQueryTemplateCreate,
  IQueryTemplatePatch,
  ISavedQuery,
  QueryPermission
} from '../../api/queries';

/** The names a definition binds: a date range `period` binds `period_start` and `period_end`. */
export function boundNames(definition: IParameterDefinition): string[] {
  return definition.type === 'date_range'
    ? [`${definition.name}_start`, `${definition.name}_end`]
    : [definition.name];
}

/** A `{` that would open a Jinja tag, as a raw block that renders the lone `{`. */
const LITERAL_BRACE = '{% raw %}{{% endraw %}';

/** Literal SQL text as template text: every `{` that starts `{{`, `{%` or `{#` escaped. */
export function escapeJinja(text: string): string {
  return text.replace(/\{(?=[{%#])/g, LITERAL_BRACE);
}

/** Characters that make a colon before a name part of something else (`a:b`, `::int`, quotes). */
const NOT_BEFORE = /[\\:"'`\]A-Za-z0-9_]/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * The positions of the `:name` placeholders in `sql` whose name is in
 * `names`, skipping string literals, quoted identifiers, comments,
 * PostgreSQL dollar-quoted strings and `::` casts, as the server's
 * `find_placeholders` does.
 */
export function placeholderSpans(
  sql: string,
  names: ReadonlySet<string>
): { start: number; end: number; name: string }[] {
  const spans: { start: number; end: number; name: string }[] = [];
  let i = 0;
  while (i < sql.length) {
    const char = sql[i];
    const next = sql[i + 1];
    if (char === "'" || char === '"' || char === '`') {
      i = skipQuoted(sql, i, char);
    } else if (char === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (char === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (char === '$' && (i === 0 || !/[A-Za-z0-9_]/.test(sql[i - 1]))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? sql.length : end + tag[0].length;
      } else {
        i++;
      }
    } else if (char === ':' && (i === 0 || !NOT_BEFORE.test(sql[i - 1]))) {
      const match = NAME.exec(sql.slice(i + 1));
      if (match && names.has(match[0])) {
        spans.push({ start: i, end: i + 1 + match[0].length, name: match[0] });
        i += 1 + match[0].length;
      } else {
        i += 1 + (match ? match[0].length : 0);
      }
    } else {
      i++;
    }
  }
  return spans;
}

/** Index one past the quoted text opened at `start` (a doubled quote stays inside). */
function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

/** A template body rendering exactly `sql`, its declared parameters as `{{ name }}`. */
export function templateBodyFromSql(
  sql: string,
  parameters: readonly IParameterDefinition[]
): string {
  const names = new Set(parameters.flatMap(boundNames));
  let body = '';
  let cursor = 0;
  for (const span of placeholderSpans(sql, names)) {
    body += escapeJinja(sql.slice(cursor, span.start)) + `{{ ${span.name} }}`;
    cursor = span.end;
  }
  return body + escapeJinja(sql.slice(cursor));
}

/**
 * `POST /api/query/templates` for a saved query: its name, description,
 * tags, parameter definitions (defaults included) and SQL as the body.
 * A template holds no datasource (the server's create body takes none):
 * whoever uses it picks one.
 */
export function templateFromQuery(
  query: ISavedQuery,
  overrides: { name?: string; description?: string; body?: string } = {}
): IQueryTemplateCreate {
  return {
    name: overrides.name ?? query.name,
    description: overrides.description ?? query.description,
    body: overrides.body ?? templateBodyFromSql(query.sql, query.parameters),
    parameters: query.parameters.map(definition => ({ ...definition })),
    tags: [...query.tags]
  };
}

/** The fields of an Edit form that differ from the template (nothing for no change). */
export function templatePatch(
  template: IQueryTemplate,
  values: { name: string; description: string; body: string }
): IQueryTemplatePatch {
  const patch: IQueryTemplatePatch = {};
  if (values.name !== template.name) {
    patch.name = values.name;
  }
  if (values.description !== template.description) {
    patch.description = values.description;
  }
  if (values.body !== template.body) {
    patch.body = values.body;
  }
  return patch;
}

/** What a template row offers, from the level the server says the caller has. */
export interface ITemplateActions {
  use: boolean;
  /** `PATCH` needs `edit`. */
  edit: boolean;
  /** `DELETE` and sharing need `manage`. */
  remove: boolean;
  share: boolean;
}

export function templateActions(permission: QueryPermission): ITemplateActions {
  return {
    use: true,
    edit: permission === 'edit' || permission === 'manage',
    remove: permission === 'manage',
    share: permission === 'manage'
  };
}
