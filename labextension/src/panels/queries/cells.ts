/**
 * The code "Open in notebook" puts into a cell. Ids and SQL go into Python
 * string literals that this module escapes itself, so nothing a user typed
 * (quotes, backslashes, newlines, line separators) can end the literal early.
 */

/**
 * A Python string literal holding `text` exactly. Printable ASCII stays as it
 * is; quotes and backslashes are escaped; everything else becomes `\n`, `\t`,
 * `\xHH`, `\uHHHH` or `\UHHHHHHHH`. Non-ASCII is escaped too, because Python
 * and IPython split lines on more characters than `\n` (U+2028, U+0085, ...).
 */
export function pythonString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') {
      out += '\\\\';
    } else if (ch === '"') {
      out += '\\"';
    } else if (ch === '\n') {
      out += '\\n';
    } else if (ch === '\r') {
      out += '\\r';
    } else if (ch === '\t') {
      out += '\\t';
    } else if (code >= 0x20 && code < 0x7f) {
      out += ch;
    } else if (code < 0x100) {
      out += `\\x${hex(code, 2)}`;
    } else if (code < 0x10000) {
      out += `\\u${hex(code, 4)}`;
    } else {
      out += `\\U${hex(code, 8)}`;
    }
  }
  return `${out}"`;
}

/**
 * SQL as a readable triple-quoted literal when that is safe (printable ASCII,
 * newlines and tabs only; no backslash or double quote), else `pythonString`.
 */
export function pythonSql(sql: string): string {
  if (/^[\x20-\x7e\n\t]*$/.test(sql) && !/["\\]/.test(sql)) {
    return `"""${sql}"""`;
  }
  return pythonString(sql);
}

/**
 * A cell that opens the saved query `queryId` in the notebook's query editor,
 * shows it, and runs it once it has loaded (the editor has no run-on-open
 * option: `wait()` lets the saved query and the datasource list arrive, then
 * `run()` starts the run in the background, so the grid fills in the output).
 */
export function openQueryCode(queryId: string): string {
  return [
    'from analytics_ext import widgets',
    '',
    `query_editor = widgets.open_query(${pythonString(queryId)})`,
    'display(query_editor)',
    'query_editor.wait()  # the saved query and the datasource list have loaded',
    'query_editor.run();  # the grid fills in when the run ends'
  ].join('\n');
}

/**
 * A cell with a query editor on `sql` and `datasourceId` (a run from the
 * history), shown and run the same way.
 */
export function openSqlCode(sql: string, datasourceId: string | null): string {
  const datasource =
    datasourceId === null ? '' : `, datasource=${pythonString(datasourceId)}`;
  return [
    'from analytics_ext import widgets',
    '',
    `query_editor = widgets.QueryEditor(sql=${pythonSql(sql)}${datasource})`,
    'display(query_editor)',
    'query_editor.wait()  # the datasource list has loaded',
    'query_editor.run();  # the grid fills in when the run ends'
  ].join('\n');
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}
