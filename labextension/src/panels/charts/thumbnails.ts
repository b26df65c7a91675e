/**
 * Chart thumbnails in the sidebar. The thumbnail route needs the server's
 * token/XSRF authentication, which an `<img src>` cannot send, so pictures are
 * fetched as blobs and shown through object URLs. `ThumbnailStore` owns those
 * URLs (one per chart, revoked when replaced or disposed, requests for the same
 * picture shared); `LazyThumbnails` loads a row's picture only when the row
 * scrolls into view.
 */
import type { IChart, IThumbnailSize } from '../../api/charts';
import { errorMessage } from '../../api';
import { h } from '../../ui/dom';
import { thumbnailKey } from './model';

/** Fetches one thumbnail; `revalidate` asks the server even if a cached copy is fresh. */
export type ThumbnailFetcher = (
  chartId: string,
  size: IThumbnailSize,
  revalidate: boolean
) => Promise<Blob>;

/** `URL.createObjectURL` / `revokeObjectURL`, injectable for tests. */
export interface IObjectURLs {
  create(blob: Blob): string;
  revoke(url: string): void;
}

const browserURLs: IObjectURLs = {
  create: blob => URL.createObjectURL(blob),
  revoke: url => URL.revokeObjectURL(url)
};

interface IEntry {
  key: string;
  url: string;
}

export class ThumbnailStore {
  constructor(
    private readonly _fetch: ThumbnailFetcher,
    private readonly _urls: IObjectURLs = browserURLs
  ) {}

  /**
   * An object URL of the chart's thumbnail at `size`. The same revision and
   * size reuse the URL already made (unless `invalidate` was called since);
   * a new one replaces and revokes the chart's previous URL once it is
   * ready. Concurrent calls for one picture share one request.
   */
  load(
    chart: Pick<IChart, 'id' | 'updated_at'>,
    size: IThumbnailSize
  ): Promise<string> {
    if (this._disposed) {
      return Promise.reject(new Error('The thumbnail store is closed.'));
    }
    const key = thumbnailKey(chart, size);
    const current = this._entries.get(chart.id);
    if (current?.key === key && !this._stale.has(chart.id)) {
      return Promise.resolve(current.url);
    }
    const pending = this._pending.get(key);
    if (pending) {
      return pending;
    }
    const revalidate = this._stale.has(chart.id);
    const request = this._fetch(chart.id, size, revalidate)
      .then(blob => {
        if (this._disposed) {
          throw new Error('The thumbnail store is closed.');
        }
        const url = this._urls.create(blob);
        const previous = this._entries.get(chart.id);
        this._entries.set(chart.id, { key, url });
        this._stale.delete(chart.id);
        if (previous && previous.url !== url) {
          this._urls.revoke(previous.url);
        }
        return url;
      })
      .finally(() => {
        this._pending.delete(key);
      });
    this._pending.set(key, request);
    return request;
  }

  /** The URL shown for a chart right now, if any (to show while a new one loads). */
  current(chartId: string): string | null {
    return this._entries.get(chartId)?.url ?? null;
  }

  /**
   * Ask the server again on the next `load` of every chart (or of `chartId`):
   * its data may have changed though the chart did not. The old picture stays
   * until the new one arrives.
   */
  invalidate(chartId?: string): void {
    const ids = chartId === undefined ? [...this._entries.keys()] : [chartId];
    for (const id of ids) {
      if (this._entries.has(id)) {
        this._stale.add(id);
      }
    }
  }

  /** Drop (and revoke) the pictures of charts not in `keep`: deleted or no longer visible. */
  retain(keep: Iterable<string>): void {
    const wanted = new Set(keep);
    for (const [id, entry] of this._entries) {
      if (!wanted.has(id)) {
        this._urls.revoke(entry.url);
        this._entries.delete(id);
        this._stale.delete(id);
      }
    }
  }

  /** How many object URLs are alive. */
  get size(): number {
    return this._entries.size;
  }

  /** Revoke every URL; later loads fail. */
  dispose(): void {
    this._disposed = true;
    for (const entry of this._entries.values()) {
      this._urls.revoke(entry.url);
    }
    this._entries.clear();
    this._stale.clear();
  }

  private readonly _entries = new Map<string, IEntry>();
  private readonly _pending = new Map<string, Promise<string>>();
  private readonly _stale = new Set<string>();
  private _disposed = false;
}

/** `IntersectionObserver`'s constructor, or null where there is none (jsdom). */
export type ObserverFactory =
  | ((
      callback: IntersectionObserverCallback,
      options: IntersectionObserverInit
    ) => IntersectionObserver)
  | null;

const defaultObserverFactory: ObserverFactory =
  typeof IntersectionObserver === 'undefined'
    ? null
    : (callback, options) => new IntersectionObserver(callback, options);

/** Build the thumbnail cell of one chart row: placeholder until loaded. */
export function thumbnailCell(chart: IChart): HTMLElement {
  const cell = h(
    'div',
    {
      className: 'jp-AnalyticsCharts-thumb jp-mod-pending',
      testId: 'chart-thumbnail',
      attrs: { 'data-chart-id': chart.id, 'aria-busy': 'true' }
    },
    h('span', {
      className: 'jp-Analytics-spinner',
      testId: 'chart-thumbnail-spinner',
      attrs: { 'aria-hidden': 'true' }
    })
  );
  return cell;
}

/**
 * Loads thumbnails into cells made by `thumbnailCell` as they scroll into
 * view of `root` (every cell at once where IntersectionObserver is missing).
 */
export class LazyThumbnails {
  constructor(
    private readonly _store: ThumbnailStore,
    private readonly _size: IThumbnailSize,
    root: Element | null,
    observerFactory: ObserverFactory = defaultObserverFactory
  ) {
    this._observer =
      observerFactory === null
        ? null
        : observerFactory(entries => this._onIntersect(entries), {
            root,
            rootMargin: '100px 0px'
          });
  }

  /** Watch `cell` (of `chart`); it loads when visible. */
  observe(cell: HTMLElement, chart: IChart): void {
    this._charts.set(cell, chart);
    const shown = this._store.current(chart.id);
    if (shown !== null) {
      // A picture of this chart is already here: show it at once, refresh when visible.
      this._show(cell, chart, shown);
    }
    if (this._observer === null) {
      void this._load(cell);
    } else {
      this._observer.observe(cell);
    }
  }

  /** Stop watching every cell (the list was replaced). */
  disconnect(): void {
    this._observer?.disconnect();
    this._charts = new WeakMap();
  }

  private _onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        this._observer?.unobserve(entry.target);
        void this._load(entry.target as HTMLElement);
      }
    }
  }

  private async _load(cell: HTMLElement): Promise<void> {
    const chart = this._charts.get(cell);
    if (!chart) {
      return;
    }
    try {
      const url = await this._store.load(chart, this._size);
      if (this._charts.get(cell) === chart) {
        this._show(cell, chart, url);
      }
    } catch (error) {
      if (this._charts.get(cell) === chart) {
        this._fail(cell, chart, errorMessage(error));
      }
    }
  }

  private _show(cell: HTMLElement, chart: IChart, url: string): void {
    let img = cell.querySelector('img');
    if (img === null) {
      img = h('img', {
        testId: 'chart-thumbnail-img',
        attrs: { alt: `Thumbnail of ${chart.name}`, decoding: 'async' }
      });
      cell.replaceChildren(img);
    }
    img.alt = `Thumbnail of ${chart.name}`;
    img.src = url;
    cell.classList.remove('jp-mod-pending', 'jp-mod-error');
    cell.removeAttribute('title');
    cell.setAttribute('aria-busy', 'false');
  }

  private _fail(cell: HTMLElement, chart: IChart, message: string): void {
    cell.classList.remove('jp-mod-pending');
    cell.classList.add('jp-mod-error');
    cell.setAttribute('aria-busy', 'false');
    cell.title = `No thumbnail: ${message}`;
    cell.replaceChildren(
      h('span', {
        className: 'jp-AnalyticsCharts-thumbError',
        testId: 'chart-thumbnail-error',
        text: '⚠',
        attrs: {
          role: 'img',
          'aria-label': `No thumbnail for ${chart.name}: ${message}`
        }
      })
    );
  }

  private readonly _observer: IntersectionObserver | null;
  private _charts = new WeakMap<Element, IChart>();
}
