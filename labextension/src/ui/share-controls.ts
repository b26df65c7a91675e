/**
 * The few DOM pieces every part of the share dialog builds the same way (the
 * grant list, the person form, the link box): a styled button and an alert
 * line that is hidden while it has nothing to say. One place, so the parts
 * look and announce alike.
 */
import { h } from './dom';

/** A `type=button` (never submits a surrounding form), with the dialog's style. */
export function button(
  label: string,
  testId: string,
  mod = ''
): HTMLButtonElement {
  return h('button', {
    className: `jp-mod-styled jp-AnalyticsShare-button ${mod}`.trim(),
    testId,
    text: label,
    attrs: { type: 'button' }
  });
}

/** A `role=alert` line, hidden until `showAlert` gives it a message. */
export function alertBox(testId: string): HTMLElement {
  const node = h('div', {
    className: 'jp-AnalyticsShare-error',
    testId,
    attrs: { role: 'alert' }
  });
  node.hidden = true;
  return node;
}

/** Show `message` as text in an alert box; an empty message hides it. */
export function showAlert(node: HTMLElement, message: string): void {
  node.textContent = message;
  node.hidden = message === '';
}
