/**
 * The datasources tree's `<ul role="tree">` and how the keyboard and mouse
 * move in it, after the WAI-ARIA tree pattern: one item in the tab order
 * (roving tabindex), arrows/Home/End to move, Right/Left to open, close or go
 * to the parent, Enter/Space or a click to toggle, F2 and Delete on a
 * datasource, a double-click on a table to preview it. The tree is drawn again
 * on every change, so the focused item is found again by its key after each
 * draw. Apart from the section, which owns what the tree shows.
 */
import { h } from '../../ui/dom';
import { CSS } from './tree-dom';
import { type ITreeHandlers, TreeIndex } from './tree-view';

/** What keys (F2, Delete) and double-clicks in the tree ask the section to do. */
export type TreeKeyCommands = Pick<
  ITreeHandlers,
  'edit' | 'remove' | 'preview'
>;

export class TreeNavigation {
  constructor(private readonly _commands: TreeKeyCommands) {
    this.node = h('ul', {
      className: `${CSS}-tree`,
      testId: 'datasources-tree',
      attrs: { role: 'tree', 'aria-label': 'Datasources' }
    });
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('dblclick', this._onDoubleClick);
    this.node.addEventListener('keydown', this._onKeyDown);
    this.node.addEventListener('focusin', this._onFocusIn);
  }

  readonly node: HTMLUListElement;

  /** What each item of the last draw toggles and stands for. */
  get index(): TreeIndex {
    return this._index;
  }

  /** The key of the item to keep in the tab order (and to focus, if asked). */
  focusKey: string | null = null;

  /**
   * Before a draw: whether the focus is in the tree (the draw drops it), and
   * remember which item had it.
   */
  captureFocus(): boolean {
    const active = document.activeElement;
    const hadFocus = active !== null && this.node.contains(active);
    const activeKey =
      hadFocus && active instanceof HTMLElement
        ? (active.dataset.key ?? null)
        : null;
    if (activeKey !== null) {
      this.focusKey = activeKey;
    }
    return hadFocus;
  }

  /** Draw the items; `build` registers their toggles and targets in a new index. */
  setItems(build: (index: TreeIndex) => HTMLElement[]): void {
    this._index = new TreeIndex();
    this.node.replaceChildren(...build(this._index));
  }

  /** Focus the item with `key` after the next draw. */
  requestFocus(key: string): void {
    this.focusKey = key;
    this._focusPending = true;
  }

  /**
   * After a draw: one item is in the tab order (the focused one, else the
   * first); focus it when `restore` (the focus was in the tree) or asked to.
   */
  applyRovingFocus(restore: boolean): void {
    const items = this._visibleItems();
    if (items.length === 0) {
      return;
    }
    const current =
      items.find(item => item.dataset.key === this.focusKey) ??
      (this.focusKey !== null
        ? this._moreButtonFor(this.focusKey)
        : undefined) ??
      items[0];
    const tabbable =
      current.getAttribute('role') === 'treeitem' ? current : items[0];
    for (const item of items) {
      item.tabIndex = item === tabbable ? 0 : -1;
    }
    if (restore || this._focusPending) {
      this._focusPending = false;
      current.focus();
    }
  }

  private _moreButtonFor(key: string): HTMLElement | undefined {
    return [
      ...this.node.querySelectorAll<HTMLElement>('button[data-key]')
    ].find(button => button.dataset.key === key);
  }

  private _visibleItems(): HTMLElement[] {
    return [...this.node.querySelectorAll<HTMLElement>('[role="treeitem"]')];
  }

  private readonly _onClick = (event: MouseEvent): void => {
    const row = (event.target as Element).closest(`.${CSS}-row`);
    const item = row?.parentElement;
    if (!row || !item || !this.node.contains(item)) {
      return;
    }
    const toggle = this._index.toggles.get(item);
    this.focusKey = item.dataset.key ?? null;
    item.focus();
    toggle?.();
  };

  private readonly _onDoubleClick = (event: MouseEvent): void => {
    const item = (event.target as Element).closest('[role="treeitem"]');
    const target = item ? this._index.targets.get(item) : undefined;
    if (target?.relation && target.datasource.permission !== 'view') {
      event.preventDefault();
      this._commands.preview(target.datasource, target.relation);
    }
  };

  private readonly _onFocusIn = (event: FocusEvent): void => {
    const item = event.target as HTMLElement;
    if (item.getAttribute?.('role') === 'treeitem' && item.dataset.key) {
      this.focusKey = item.dataset.key;
      for (const other of this._visibleItems()) {
        other.tabIndex = other === item ? 0 : -1;
      }
    }
  };

  private readonly _onKeyDown = (event: KeyboardEvent): void => {
    const item = event.target as HTMLElement;
    if (item.getAttribute('role') !== 'treeitem') {
      return; // keys in buttons inside items are theirs
    }
    const items = this._visibleItems();
    const position = items.indexOf(item);
    const expanded = item.getAttribute('aria-expanded');
    const toggle = this._index.toggles.get(item);
    const target = this._index.targets.get(item);
    let handled = true;
    switch (event.key) {
      case 'Enter':
      case ' ':
        if (toggle) {
          toggle();
        } else {
          handled = false;
        }
        break;
      case 'ArrowDown':
        items[position + 1]?.focus();
        break;
      case 'ArrowUp':
        items[position - 1]?.focus();
        break;
      case 'Home':
        items[0]?.focus();
        break;
      case 'End':
        items[items.length - 1]?.focus();
        break;
      case 'ArrowRight':
        if (expanded === 'false') {
          toggle?.();
        } else if (expanded === 'true') {
          item.querySelector<HTMLElement>('[role="treeitem"]')?.focus();
        }
        break;
      case 'ArrowLeft':
        if (expanded === 'true') {
          toggle?.();
        } else {
          item.parentElement
            ?.closest<HTMLElement>('[role="treeitem"]')
            ?.focus();
        }
        break;
      case 'F2':
      case 'Delete':
        if (
          target &&
          target.datasource.permission === 'manage' &&
          !target.relation
        ) {
          if (event.key === 'F2') {
            this._commands.edit(target.datasource);
          } else {
            this._commands.remove(target.datasource);
          }
        } else {
          handled = false;
        }
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  };

  private _index = new TreeIndex();
  private _focusPending = false;
}
