/**
 * Pure logic of the Charts section: thumbnail sizes, export menu entries and
 * request bodies, list filtering, labels. No DOM, no network, so Jest tests
 * it directly.
 */
import type {
  ChartExportFormat,
  ChartType,
  IChart,
  IChartExport,
  ITemplateApply,
  IThumbnailSize
} from '../../api/charts';

/** The box a thumbnail is shown in, in CSS pixels (see charts.css). */
export const THUMBNAIL_BOX: IThumbnailSize = { width: 112, height: 70 };
/** The server's bounds for either side of a thumbnail. */
export const THUMBNAIL_MIN = 50;
export const THUMBNAIL_MAX = 800;
/**
 * The chart is laid out at this many times the box (then shown in it), so a
 * thumbnail is a miniature of the chart rather than axes squeezed into 96 px.
 */
export const THUMBNAIL_LAYOUT_FACTOR = 2;
/** Charts fetched per page. */
export const PAGE_SIZE = 50;

/**
 * The size to ask the server for a thumbnail shown in `box`: the layout
 * factor times the box, at least the device's pixel ratio (crisp on HiDPI),
 * rounded, and clamped to the server's bounds.
 */
export function thumbnailRequestSize(
  box: IThumbnailSize = THUMBNAIL_BOX,
  devicePixelRatio = 1
): IThumbnailSize {
  const factor = Math.max(
    THUMBNAIL_LAYOUT_FACTOR,
    Number.isFinite(devicePixelRatio) ? devicePixelRatio : 1
  );
  const clamp = (value: number): number =>
    Math.min(
      THUMBNAIL_MAX,
      Math.max(THUMBNAIL_MIN, Math.round(value * factor))
    );
  return { width: clamp(box.width), height: clamp(box.height) };
}

/**
 * The key of one thumbnail picture: a chart's revision (`updated_at`) and
 * size. A renamed or re-styled chart gets a new key (and a new fetch).
 */
export function thumbnailKey(
  chart: Pick<IChart, 'id' | 'updated_at'>,
  size: IThumbnailSize
): string {
  return `${chart.id}@${chart.updated_at}@${size.width}x${size.height}`;
}

export interface IExportFormat {
  format: ChartExportFormat;
  /** Menu label. */
  label: string;
  /** What the file holds (the menu item's caption). */
  caption: string;
}

/** The Export ▸ menu, in order. */
export const EXPORT_FORMATS: readonly IExportFormat[] = [
  { format: 'png', label: 'PNG image', caption: 'The chart as a PNG picture' },
  { format: 'svg', label: 'SVG image', caption: 'The chart as an SVG picture' },
  {
    format: 'pdf',
    label: 'PDF document',
    caption: 'The chart as a one-page PDF'
  },
  {
    format: 'csv',
    label: 'CSV data',
    caption: 'The rows the chart draws, as CSV'
  },
  {
    format: 'json',
    label: 'Vega-Lite JSON',
    caption: 'A self-contained Vega-Lite spec with the rows inline'
  }
];

/** Whether `value` names one of `EXPORT_FORMATS` (command arguments are untyped). */
export function isExportFormat(value: unknown): value is ChartExportFormat {
  return EXPORT_FORMATS.some(entry => entry.format === value);
}

/**
 * The body of `POST api/chart/export` for a saved chart: pictures at the
 * chart's own size (the server's default), PNG at 2x so it stays sharp.
 */
export function exportBody(
  chartId: string,
  format: ChartExportFormat
): IChartExport {
  if (!isExportFormat(format)) {
    throw new Error(`Unknown export format: ${String(format)}`);
  }
  return format === 'png'
    ? { chart_id: chartId, format, scale: 2 }
    : { chart_id: chartId, format };
}

const TYPE_LABELS: Record<ChartType, string> = {
  bar: 'Bar',
  line: 'Line',
  area: 'Area',
  scatter: 'Scatter',
  pie: 'Pie',
  histogram: 'Histogram',
  heatmap: 'Heatmap',
  box: 'Box plot'
};

export function chartTypeLabel(type: string): string {
  return (TYPE_LABELS as Record<string, string>)[type] ?? type;
}

/** The query's name, or what to say when the caller cannot see the query. */
export function queryLabel(
  queryId: string,
  names: ReadonlyMap<string, string | null>
): string {
  if (!names.has(queryId)) {
    return 'Loading query…';
  }
  return names.get(queryId) ?? 'Query not shared with you';
}

/**
 * The charts matching a search: every word (any case) must appear in the
 * chart's name, its type, its description or its query's name.
 */
export function filterCharts(
  charts: readonly IChart[],
  text: string,
  queryNames: ReadonlyMap<string, string | null> = new Map()
): IChart[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) {
    return [...charts];
  }
  return charts.filter(chart => {
    const haystack = [
      chart.name,
      chart.spec.type,
      chartTypeLabel(chart.spec.type),
      chart.description,
      queryNames.get(chart.query_id) ?? ''
    ]
      .join('\n')
      .toLowerCase();
    return words.every(word => haystack.includes(word));
  });
}

/** "3 of 120 charts" style count for the list footer. */
export function countLabel(
  shown: number,
  loaded: number,
  total: number
): string {
  const noun = total === 1 ? 'chart' : 'charts';
  if (shown === loaded) {
    return loaded === total
      ? `${total} ${noun}`
      : `${loaded} of ${total} ${noun} loaded`;
  }
  return loaded === total
    ? `${shown} of ${total} ${noun} match`
    : `${shown} of ${loaded} loaded ${noun} match (${total} in all)`;
}

/** The notebook code that opens a saved chart (`analytics_ext.widgets.open_chart`). */
export function openChartCode(chartId: string): string {
  if (!/^[A-Za-z0-9_-]{22}$/.test(chartId)) {
    throw new Error(`Not a chart id: ${JSON.stringify(chartId)}`);
  }
  return `from analytics_ext import widgets\nwidgets.open_chart("${chartId}")`;
}

/** The longest chart name the server takes. */
export const MAX_NAME = 200;

/** A name's problem before anything is sent, or null. */
export function checkName(name: string): string | null {
  const trimmed = name.trim();
  if (trimmed.length === 0) {
    return 'Enter a name.';
  }
  if (trimmed.length > MAX_NAME) {
    return `A name has at most ${MAX_NAME} characters.`;
  }
  return null;
}

/**
 * The apply body as pure form state → request: `templateId` plus the
 * `ITemplateApply` body with blank bindings left out (the server then binds
 * the column named like the role).
 */
export function applyRequest(form: {
  templateId: string;
  queryId: string;
  name: string;
  bindings: Record<string, string>;
}): { templateId: string; body: ITemplateApply } {
  const bindings: Record<string, string> = {};
  for (const [channel, column] of Object.entries(form.bindings)) {
    if (column.trim()) {
      bindings[channel] = column.trim();
    }
  }
  return {
    templateId: form.templateId,
    body: {
      query_id: form.queryId,
      name: form.name.trim(),
      bindings: bindings as ITemplateApply['bindings']
    }
  };
}
