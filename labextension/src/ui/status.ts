/**
 * The states every panel shows the same way: loading, failed, empty. Text is
 * set as text, so a server message cannot inject markup.
 */
import { h } from './dom';

const CSS = 'jp-Analytics';

export function loadingView(text = 'Loading…'): HTMLElement {
  return h(
    'div',
    {
      className: `${CSS}-loading`,
      testId: 'analytics-loading',
      attrs: { role: 'status' }
    },
    h('span', {
      className: `${CSS}-spinner`,
      attrs: { 'aria-hidden': 'true' }
    }),
    h('span', { text })
  );
}

/** A failure: `title` says what failed, `message` is the server's own words. */
export function errorView(
  message: string,
  title = 'Could not load analytics information'
): HTMLElement {
  return h(
    'div',
    { className: `${CSS}-error`, attrs: { role: 'alert' } },
    h('div', { className: `${CSS}-errorTitle`, text: title }),
    h('div', {
      className: `${CSS}-errorMessage`,
      testId: 'analytics-error',
      text: message
    })
  );
}

export function emptyView(
  text: string,
  testId = 'analytics-empty'
): HTMLElement {
  return h('div', { className: `${CSS}-empty`, testId, text });
}
