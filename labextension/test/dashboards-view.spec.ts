import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { AnalyticsAPIError } from '../src/api';
import type { IDashboard } from '../src/api/dashboards';
import type { IAnalyticsContext } from '../src/context';
import { DashboardActions } from '../src/panels/dashboards/actions';
import { renameDashboardDialog } from '../src/panels/dashboards/dialogs';
import { DashboardsSection } from '../src/panels/dashboards/section';
import {
  DashboardViewer,
  VIEWER_SANDBOX
} from '../src/panels/dashboards/viewer';

function dashboard(fields: Partial<IDashboard> = {}): IDashboard {
  return {
    id: 'AAAAAAAAAAAAAAAAAAAAAA',
    title: 'Retail overview',
    description: '',
    tiles: [],
    layout: [],
    refresh_seconds: null,
    tags: [],
    owner_id: 'me',
    version: 1,
    permission: 'manage',
    published_version: null,
    published_at: null,
    viewer_url: null,
    created_at: '2026-11-27T10:00:00Z',
    updated_at: '2026-11-27T10:00:00Z',
    ...fields
  };
}

const HOSTILE = '<img src=x onerror="window.hacked=1">';

/** A context whose REST client answers from fixtures (no network in Jest). */
function fakeContext(list: () => Promise<IDashboard[]>): IAnalyticsContext {
  const ctx = {
    app: { contextMenu: { open: jest.fn() }, shell: { widgets: () => [] } },
    api: {
      serverSettings: { baseUrl: 'http://localhost/base/' },
      getCurrentUser: () => Promise.resolve({ id: 'me' }),
      dashboards: {
        list: () => list().then(items => ({ items, truncated: false }))
      }
    },
    palette: null,
    notebooks: { insert: jest.fn() },
    notifyChanged: jest.fn(),
    openInMain: jest.fn()
  };
  const changed = new Signal<IAnalyticsContext, unknown>(ctx as never);
  return { ...ctx, changed } as unknown as IAnalyticsContext;
}

async function shown(items: IDashboard[] | Error): Promise<DashboardsSection> {
  const section = new DashboardsSection(
    fakeContext(() =>
      items instanceof Error ? Promise.reject(items) : Promise.resolve(items)
    )
  );
  Widget.attach(section, document.body);
  await section.refresh();
  return section;
}

function byTestId(root: ParentNode, id: string): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];
}

afterEach(() => {
  document.body.replaceChildren();
});

describe('DashboardsSection', () => {
  it('renders user-supplied names and owners as text', async () => {
    const section = await shown([
      dashboard({
        title: HOSTILE,
        owner_id: 'u2',
        owner_name: `<b>${HOSTILE}</b>`,
        permission: 'view'
      })
    ]);
    const [title] = byTestId(section.node, 'dashboard-title');
    expect(title.textContent).toBe(HOSTILE);
    expect(title.children).toHaveLength(0);
    const [owner] = byTestId(section.node, 'dashboard-owner');
    expect(owner.textContent).toBe(`Shared by <b>${HOSTILE}</b>`);
    expect(section.node.querySelector('img, b')).toBeNull();
  });

  it('shows tiles and publish state, and enables what the level allows', async () => {
    const section = await shown([
      dashboard({
        id: 'P'.repeat(22),
        tiles: [{ id: 't', type: 'markdown', text: 'x' }],
        version: 4,
        published_version: 4
      }),
      dashboard({ id: 'V'.repeat(22), permission: 'view', owner_id: 'u2' })
    ]);
    const rows = byTestId(section.node, 'dashboard-row');
    expect(rows.map(row => row.getAttribute('data-dashboard-id'))).toEqual([
      'P'.repeat(22),
      'V'.repeat(22)
    ]);
    const [published, draft] = rows;
    expect(byTestId(published, 'dashboard-tiles')[0].textContent).toBe(
      '1 tile'
    );
    expect(byTestId(published, 'dashboard-state')[0].textContent).toBe(
      'Published v4'
    );
    expect(byTestId(published, 'dashboard-owner')).toHaveLength(0);
    const enabled = (row: HTMLElement, id: string) =>
      !(byTestId(row, id)[0] as HTMLButtonElement).disabled;
    expect(enabled(published, 'dashboard-open')).toBe(true);
    expect(enabled(published, 'dashboard-share')).toBe(true);
    expect(byTestId(published, 'dashboard-publish')[0].textContent).toBe(
      'Republish'
    );
    expect(byTestId(draft, 'dashboard-state')[0].textContent).toBe(
      'Draft v1 · not published'
    );
    expect(byTestId(draft, 'dashboard-owner')[0].textContent).toBe(
      'Shared with you'
    );
    expect(enabled(draft, 'dashboard-open')).toBe(false);
    expect(enabled(draft, 'dashboard-open-external')).toBe(false);
    expect(enabled(draft, 'dashboard-publish')).toBe(false);
    expect(enabled(draft, 'dashboard-share')).toBe(false);
  });

  it('filters rows by the search box without asking the server again', async () => {
    const list = jest.fn(() =>
      Promise.resolve([
        dashboard({ id: 'a'.repeat(22), title: 'Sales' }),
        dashboard({ id: 'b'.repeat(22), title: 'Ops' })
      ])
    );
    const section = new DashboardsSection(fakeContext(list));
    Widget.attach(section, document.body);
    await section.refresh();
    const [search] = byTestId(
      section.node,
      'dashboards-search'
    ) as HTMLInputElement[];
    search.value = 'sal';
    search.dispatchEvent(new Event('input'));
    expect(
      byTestId(section.node, 'dashboard-title').map(node => node.textContent)
    ).toEqual(['Sales']);
    search.value = 'zzz';
    search.dispatchEvent(new Event('input'));
    expect(byTestId(section.node, 'dashboards-empty')[0].textContent).toBe(
      'No dashboard matches “zzz”.'
    );
    expect(list).toHaveBeenCalledTimes(1);
  });

  it('has an empty state', async () => {
    const section = await shown([]);
    expect(byTestId(section.node, 'dashboards-empty')[0].textContent).toMatch(
      /^No dashboards yet/
    );
  });

  it("shows the server's message when loading fails", async () => {
    const response = new Response('{}', { status: 403 });
    const section = await shown(
      new AnalyticsAPIError(response, 'no access to <dashboards>', null)
    );
    expect(byTestId(section.node, 'analytics-error')[0].textContent).toBe(
      'no access to <dashboards>'
    );
  });
});

describe('DashboardViewer', () => {
  it('frames the viewer page under the base URL with scripts on the same origin', () => {
    const viewer = new DashboardViewer({
      dashboardId: 'AAAAAAAAAAAAAAAAAAAAAA',
      title: HOSTILE,
      baseUrl: 'http://localhost/sub/path/'
    });
    const frame = viewer.node.querySelector('iframe')!;
    expect(frame.getAttribute('src')).toBe(
      'http://localhost/sub/path/analytics/dashboards/AAAAAAAAAAAAAAAAAAAAAA'
    );
    const sandbox = frame.getAttribute('sandbox')!.split(' ');
    expect(sandbox).toEqual(
      expect.arrayContaining(['allow-scripts', 'allow-same-origin'])
    );
    expect(sandbox).not.toContain('allow-top-navigation');
    expect(VIEWER_SANDBOX).not.toContain('allow-modals');
    expect(viewer.id).toBe(
      'analytics-ext:dashboard-view:AAAAAAAAAAAAAAAAAAAAAA'
    );
    expect(viewer.title.label).toBe(HOSTILE);
    viewer.dispose();
  });
});

describe('rename dialog', () => {
  const flush = () => new Promise(resolve => setTimeout(resolve, 0));

  it('keeps the form and shows the server message until the save succeeds', async () => {
    const answers = [
      () => Promise.reject(new Error('title: may not be <empty>')),
      () => Promise.resolve()
    ];
    const rename = jest.fn((_title: string) => answers.shift()!());
    const done = renameDashboardDialog(dashboard({ title: 'Old' }), rename);
    await flush();
    const input = document.querySelector<HTMLInputElement>(
      '[data-testid="dashboards-name-input"]'
    )!;
    const accept = () =>
      document
        .querySelector<HTMLButtonElement>('.jp-Dialog-footer .jp-mod-accept')!
        .click();

    accept(); // unchanged name: refused before anything is sent
    expect(rename).not.toHaveBeenCalled();
    expect(
      document.querySelector('[data-testid="dashboards-dialog-error"]')!
        .textContent
    ).toBe('That is its name already.');

    input.value = '  New name ';
    accept();
    await flush();
    expect(rename).toHaveBeenLastCalledWith('New name');
    const error = document.querySelector<HTMLElement>(
      '[data-testid="dashboards-dialog-error"]'
    )!;
    expect(error.textContent).toBe('title: may not be <empty>');
    expect(error.hidden).toBe(false);
    expect(input.isConnected).toBe(true);
    expect(input.value).toBe('  New name ');

    accept();
    await expect(done).resolves.toBe(true);
    expect(rename).toHaveBeenCalledTimes(2);
  });
});

describe('DashboardActions', () => {
  it('opens a dashboard in a notebook with the call the published notebook runs', async () => {
    const ctx = fakeContext(() => Promise.resolve([]));
    const feedback = { pending: jest.fn(), failed: jest.fn() };
    const actions = new DashboardActions(ctx, feedback);
    await actions.openInNotebook(dashboard({ id: 'B'.repeat(22) }));
    expect(ctx.notebooks.insert).toHaveBeenCalledWith(
      `from analytics_ext.dashboards.view import show\nshow("${'B'.repeat(22)}")`,
      { run: true }
    );
    expect(feedback.pending).toHaveBeenLastCalledWith('B'.repeat(22), null);
    expect(feedback.failed).not.toHaveBeenCalledWith(
      'B'.repeat(22),
      expect.any(String)
    );
  });

  it("reports a failed export's server message on the row and ends the pending state", async () => {
    const ctx = fakeContext(() => Promise.resolve([]));
    const exportFile = jest.fn(() =>
      Promise.reject(
        new AnalyticsAPIError(
          new Response('{}', { status: 503 }),
          'no Chromium for PDF',
          null
        )
      )
    );
    (
      ctx.api.dashboards as unknown as { exportFile: typeof exportFile }
    ).exportFile = exportFile;
    const feedback = { pending: jest.fn(), failed: jest.fn() };
    await new DashboardActions(ctx, feedback).exportAs(dashboard(), 'pdf');
    expect(exportFile).toHaveBeenCalledWith('AAAAAAAAAAAAAAAAAAAAAA', 'pdf');
    expect(feedback.pending.mock.calls).toEqual([
      ['AAAAAAAAAAAAAAAAAAAAAA', 'Exporting PDF…'],
      ['AAAAAAAAAAAAAAAAAAAAAA', null]
    ]);
    expect(feedback.failed).toHaveBeenLastCalledWith(
      'AAAAAAAAAAAAAAAAAAAAAA',
      'no Chromium for PDF'
    );
  });
});
