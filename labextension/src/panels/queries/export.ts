/**
 * Export formats of saved queries and saving a downloaded file in the
 * browser (an object URL clicked through an `<a download>`).
 */
import type {
  ExportFormat,
  IQueryExport,
  ISavedQuery,
  ParameterValue
} from '../../api/queries';
import type { IDownload } from '../../api';

export interface IExportFormat {
  format: ExportFormat;
  /** Menu label. */
  label: string;
  /** File extension the server gives the file. */
  extension: string;
}

/** The formats of `POST /api/query/export` (`schemas/query_export.py`), in menu order. */
export const EXPORT_FORMATS: readonly IExportFormat[] = [
  { format: 'csv', label: 'CSV', extension: 'csv' },
  { format: 'xlsx', label: 'Excel (XLSX)', extension: 'xlsx' },
  { format: 'parquet', label: 'Parquet', extension: 'parquet' },
  { format: 'json', label: 'JSON', extension: 'json' }
];

export function exportFormat(format: string): IExportFormat {
  const found = EXPORT_FORMATS.find(item => item.format === format);
  if (!found) {
    throw new Error(
      `Unknown export format ${JSON.stringify(format)}; use one of ${EXPORT_FORMATS.map(
        item => item.format
      ).join(', ')}.`
    );
  }
  return found;
}

/**
 * `POST /api/query/export` for a saved query: the values chosen in the
 * export form go in `parameters` (`QueryExportCreate.parameters`); a
 * parameter left out runs with its default.
 */
export function exportRequest(
  query: Pick<ISavedQuery, 'id'>,
  format: ExportFormat,
  parameters: Record<string, ParameterValue> = {}
): IQueryExport {
  const body: IQueryExport = { query_id: query.id, format };
  if (Object.keys(parameters).length > 0) {
    body.parameters = { ...parameters };
  }
  return body;
}

/** Whether Export asks for parameter values first (the query declares parameters). */
export function asksForParameters(
  query: Pick<ISavedQuery, 'parameters'>
): boolean {
  return query.parameters.length > 0;
}

/**
 * The name to save under when the server sent no `Content-Disposition`: the
 * query's name made file-safe, with the format's extension.
 */
export function fallbackFilename(
  queryName: string,
  format: ExportFormat
): string {
  const base =
    queryName
      .normalize('NFKD')
      .replace(/[^\w.-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 100) || 'query';
  return `${base}.${exportFormat(format).extension}`;
}

/** `12,345 rows (cut at the row limit)` from the export's headers. */
export function exportSummary(download: IDownload): string {
  const rows = Number(download.headers.get('X-Export-Rows'));
  const truncated = download.headers.get('X-Export-Truncated') === 'true';
  const count =
    Number.isFinite(rows) && download.headers.has('X-Export-Rows')
      ? `${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'}`
      : 'the file';
  return `${download.filename}: ${count}${truncated ? ' (cut at the row limit)' : ''}`;
}

/** Hand the file to the browser's download (the object URL is released afterwards). */
export function saveDownload(
  download: IDownload,
  doc: Document = document
): void {
  const url = URL.createObjectURL(download.blob);
  const link = doc.createElement('a');
  link.href = url;
  link.download = download.filename;
  link.style.display = 'none';
  doc.body.append(link);
  try {
    link.click();
  } finally {
    link.remove();
    // Some browsers read the URL after click() returns.
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
  }
}
