/**
 * The Account tab in the main area: Profile, Settings, Sessions, API keys,
 * Activity, each loading on its own. A contents bar jumps to a block.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import type { IAnalyticsContext } from '../../context';
import { analyticsIcon } from '../../icons';
import { h } from '../../ui/dom';
import { ActivityBlock } from './activity';
import { ApiKeysBlock } from './api-keys';
import { type AccountBlock, CSS } from './block';
import { ProfileBlock } from './profile';
import { SessionsBlock } from './sessions';
import { SettingsBlock } from './settings';

/** Id of the Account tab; opening it again activates the open one. */
export const ACCOUNT_TAB_ID = 'analytics-ext:account-tab';

export type AccountBlockKey =
  'profile' | 'settings' | 'sessions' | 'api-keys' | 'activity';

class AccountContent extends Widget {
  constructor(ctx: IAnalyticsContext) {
    super();
    this.addClass(`${CSS}-tab`);
    this.node.dataset.testid = 'account-tab';
    this.node.tabIndex = -1;
    this.blocks = [
      new ProfileBlock(ctx),
      new SettingsBlock(ctx),
      new SessionsBlock(ctx),
      new ApiKeysBlock(ctx),
      new ActivityBlock(ctx)
    ];
    const nav = h('nav', {
      className: `${CSS}-nav`,
      attrs: { 'aria-label': 'Account sections' }
    });
    for (const block of this.blocks) {
      const link = h('button', {
        className: `${CSS}-navLink`,
        testId: `account-nav-${block.key}`,
        text: block.title,
        attrs: { type: 'button' }
      });
      link.addEventListener('click', () =>
        this.showBlock(block.key as AccountBlockKey)
      );
      nav.append(link);
    }
    this.node.append(
      h(
        'header',
        { className: `${CSS}-tabHeader` },
        h('h1', { text: 'Account' }),
        nav
      ),
      h(
        'div',
        { className: `${CSS}-blocks` },
        ...this.blocks.map(block => block.node)
      )
    );
  }

  readonly blocks: AccountBlock[];

  /** Scroll to a block and move focus to its heading. */
  showBlock(key: AccountBlockKey): void {
    const block = this.blocks.find(candidate => candidate.key === key);
    const heading = block?.node.querySelector('h2');
    if (heading) {
      heading.tabIndex = -1;
      heading.scrollIntoView({ block: 'start' });
      heading.focus();
    }
  }

  /** Load every block (again). */
  reload(): void {
    for (const block of this.blocks) {
      void block.load();
    }
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (!this._loaded) {
      this._loaded = true;
      this.reload();
    }
  }

  private _loaded = false;
}

/** Open the Account tab (or activate the open one), optionally at one block. */
export function openAccountTab(
  ctx: IAnalyticsContext,
  block?: AccountBlockKey
): void {
  let widget = [...ctx.app.shell.widgets('main')].find(
    open => open.id === ACCOUNT_TAB_ID
  ) as MainAreaWidget<AccountContent> | undefined;
  if (!widget || widget.isDisposed) {
    const content = new AccountContent(ctx);
    widget = new MainAreaWidget({ content });
    widget.id = ACCOUNT_TAB_ID;
    widget.title.label = 'Account';
    widget.title.caption =
      'Analytics account: profile, settings, sessions, API keys, activity';
    widget.title.icon = analyticsIcon;
    widget.title.closable = true;
    const reloadButton = h('button', {
      className: `jp-mod-styled ${CSS}-button`,
      testId: 'account-tab-reload',
      text: 'Reload',
      attrs: { type: 'button', title: 'Fetch everything on this page again' }
    });
    reloadButton.addEventListener('click', () => content.reload());
    widget.toolbar.addItem('reload', new Widget({ node: reloadButton }));
  }
  ctx.openInMain(widget);
  if (block) {
    const content = widget.content;
    requestAnimationFrame(() => content.showBlock(block));
  }
}
