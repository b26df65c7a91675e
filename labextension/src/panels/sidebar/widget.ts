/**
 * The Analytics sidebar: one accordion of sections (datasources, queries,
 * charts, dashboards, account), a Refresh that reloads them all.
 */
import {
  SidePanel,
  ToolbarButton,
  refreshIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { IAnalyticsSection } from '../../context';
import { analyticsIcon } from '../../icons';
import { SIDEBAR_ID } from '../../tokens';
import { h } from '../../ui/dom';

export class AnalyticsSidebar extends SidePanel {
  constructor(sections: IAnalyticsSection[]) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-AnalyticsSidebar');
    this.title.icon = analyticsIcon;
    // Caption only: like the core sidebars, the tab shows the icon and the caption as tooltip.
    this.title.caption = 'Analytics';
    this._sections = sections;

    const header = new Widget({
      node: h('h2', {
        className: 'jp-AnalyticsSidebar-title',
        text: 'Analytics'
      })
    });
    this.header.addWidget(header);

    const refresh = new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Reload every section',
      onClick: () => void this.refresh()
    });
    refresh.node.dataset.testid = 'analytics-refresh';
    this.toolbar.addItem('refresh', refresh);

    for (const section of sections) {
      this.addWidget(section);
    }
  }

  /** Reload every section (one not shown yet loads now). */
  async refresh(): Promise<void> {
    await Promise.all(this._sections.map(section => section.refresh()));
  }

  private readonly _sections: IAnalyticsSection[];
}
