/**
 * A tiny DOM builder. Text is always set with `textContent`, never parsed as
 * HTML, so user-supplied strings cannot inject markup.
 */

export interface IElementOptions {
  className?: string;
  /** Stable hook for browser tests (`data-testid`). */
  testId?: string;
  /** Text content (set as text, never as HTML). */
  text?: string;
  /** Other attributes, set with `setAttribute`. */
  attrs?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: IElementOptions = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (options.className) {
    node.className = options.className;
  }
  if (options.testId) {
    node.dataset.testid = options.testId;
  }
  if (options.text !== undefined) {
    node.textContent = options.text;
  }
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}
