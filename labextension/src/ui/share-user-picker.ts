/**
 * The "share with" field of the share dialog: a combobox that suggests
 * accounts from `GET api/users` as the user types (debounced, latest answer
 * wins), navigable with the arrow keys, Enter to pick and Escape to close,
 * following the ARIA combobox pattern (`role=combobox` + `listbox`/`option`).
 */
import { errorMessage } from '../api/request';
import type { IUserMatch } from '../api/sharing';
import { h } from './dom';
import { MIN_USER_QUERY, SuggestionState, userLabel } from './share-model';

export interface IUserPickerOptions {
  /** Look up accounts by prefix (the server call). */
  find: (prefix: string) => Promise<IUserMatch[]>;
  /** Called when the picked account changes (null: none picked). */
  onPick: (user: IUserMatch | null) => void;
  /** Unique prefix for element ids (aria-controls, aria-activedescendant). */
  idPrefix: string;
  /** Wait this long after the last keystroke before asking the server. */
  debounceMs?: number;
}

let pickerCount = 0;

export class UserPicker {
  readonly node: HTMLElement;
  readonly input: HTMLInputElement;

  constructor(options: IUserPickerOptions) {
    this._options = options;
    this._ids = `${options.idPrefix}-${++pickerCount}`;
    this.input = h('input', {
      className: 'jp-mod-styled jp-AnalyticsShare-input',
      testId: 'share-user-input',
      attrs: {
        id: `${this._ids}-input`,
        type: 'text',
        role: 'combobox',
        autocomplete: 'off',
        spellcheck: 'false',
        placeholder: 'Username or name',
        'aria-autocomplete': 'list',
        'aria-expanded': 'false',
        'aria-controls': `${this._ids}-list`
      }
    });
    this._list = h('ul', {
      className: 'jp-AnalyticsShare-suggestions',
      testId: 'share-user-suggestions',
      attrs: {
        id: `${this._ids}-list`,
        role: 'listbox',
        'aria-label': 'Matching users'
      }
    });
    this._list.hidden = true;
    this._status = h('div', {
      className: 'jp-AnalyticsShare-hint',
      testId: 'share-user-status',
      attrs: { 'aria-live': 'polite' }
    });
    this.node = h(
      'div',
      { className: 'jp-AnalyticsShare-picker' },
      this.input,
      this._list,
      this._status
    );
    this.input.addEventListener('input', () => this._onInput());
    this.input.addEventListener('keydown', event => this._onKeydown(event));
    this.input.addEventListener('blur', () => {
      // Later, so a click on a suggestion lands before the list closes.
      window.setTimeout(() => this._close(), 150);
    });
  }

  /** The picked account, if any. */
  get picked(): IUserMatch | null {
    return this._picked;
  }

  /** Whether the suggestion list is showing. */
  get isOpen(): boolean {
    return !this._list.hidden;
  }

  /** The suggestions and the active one (for tests and the dialog). */
  get suggestions(): SuggestionState {
    return this._state;
  }

  set disabled(value: boolean) {
    this.input.disabled = value;
  }

  /** Empty the field and forget the pick (after a grant is made). */
  reset(): void {
    this._cancelSearch();
    this.input.value = '';
    this._setPicked(null);
    this._state.clear();
    this._status.textContent = '';
    this._render();
  }

  /** Stop pending lookups (the dialog closed). */
  dispose(): void {
    this._cancelSearch();
  }

  /** Ask the server now for the field's current text (debounce elapsed). */
  async search(): Promise<void> {
    const prefix = this.input.value.trim();
    const seq = ++this._seq;
    if (prefix.length < MIN_USER_QUERY) {
      this._state.clear();
      this._status.textContent =
        prefix.length === 0
          ? ''
          : `Type at least ${MIN_USER_QUERY} characters to search.`;
      this._render();
      return;
    }
    let users: IUserMatch[];
    try {
      users = await this._options.find(prefix);
    } catch (error) {
      if (seq === this._seq) {
        this._state.clear();
        this._render();
        this._status.textContent = errorMessage(error);
      }
      return;
    }
    if (seq !== this._seq) {
      return; // a later keystroke asked again; its answer wins
    }
    this._state.set(users);
    this._status.textContent =
      users.length === 0 ? `No user matches “${prefix}”.` : '';
    this._render();
  }

  /** Pick suggestion `index` (click or Enter). */
  pick(index: number): void {
    const user = this._state.items[index];
    if (!user) {
      return;
    }
    this._cancelSearch();
    this.input.value = userLabel(user);
    this._setPicked(user);
    this._close();
  }

  private _onInput(): void {
    // Any edit after a pick means the text no longer names that account.
    this._setPicked(null);
    this._cancelSearch();
    this._timer = window.setTimeout(() => {
      this._timer = null;
      void this.search();
    }, this._options.debounceMs ?? 250);
  }

  private _onKeydown(event: KeyboardEvent): void {
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowUp': {
        if (this._state.items.length === 0) {
          return;
        }
        event.preventDefault();
        if (this.isOpen) {
          this._state.move(event.key === 'ArrowDown' ? 1 : -1);
        }
        this._render();
        return;
      }
      case 'Enter': {
        event.preventDefault();
        if (this.isOpen && this._state.active >= 0) {
          this.pick(this._state.active);
        }
        return;
      }
      case 'Escape': {
        if (this.isOpen) {
          event.preventDefault();
          event.stopPropagation();
          this._close();
        }
        return;
      }
      default:
        return;
    }
  }

  private _render(): void {
    const items = this._state.items;
    this._list.replaceChildren(
      ...items.map((user, index) => {
        const option = h(
          'li',
          {
            className: 'jp-AnalyticsShare-option',
            testId: 'share-user-option',
            attrs: {
              id: `${this._ids}-option-${index}`,
              role: 'option',
              'aria-selected': String(index === this._state.active),
              'data-username': user.username
            }
          },
          h('span', {
            className: 'jp-AnalyticsShare-optionName',
            text: user.display_name || user.username
          }),
          h('span', {
            className: 'jp-AnalyticsShare-optionUser',
            text: `@${user.username}`
          })
        );
        if (index === this._state.active) {
          option.classList.add('jp-mod-active');
        }
        // mousedown would blur the input first and close the list.
        option.addEventListener('mousedown', event => event.preventDefault());
        option.addEventListener('click', () => this.pick(index));
        option.addEventListener('mousemove', () => {
          if (this._state.active !== index) {
            this._state.activate(index);
            this._render();
          }
        });
        return option;
      })
    );
    const open = items.length > 0;
    this._list.hidden = !open;
    this.input.setAttribute('aria-expanded', String(open));
    if (open && this._state.active >= 0) {
      const id = `${this._ids}-option-${this._state.active}`;
      this.input.setAttribute('aria-activedescendant', id);
      this._list.children[this._state.active]?.scrollIntoView?.({
        block: 'nearest'
      });
    } else {
      this.input.removeAttribute('aria-activedescendant');
    }
  }

  private _close(): void {
    this._list.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  private _setPicked(user: IUserMatch | null): void {
    if (user !== this._picked) {
      this._picked = user;
      this._options.onPick(user);
    }
  }

  private _cancelSearch(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
    this._seq++;
  }

  private readonly _options: IUserPickerOptions;
  private readonly _ids: string;
  private readonly _list: HTMLUListElement;
  private readonly _status: HTMLElement;
  private readonly _state = new SuggestionState();
  private _picked: IUserMatch | null = null;
  private _timer: number | null = null;
  private _seq = 0;
}
