/**
 * Pure views of the Analytics sidebar: each function returns a fresh DOM tree
 * for one state. No fetching, no state.
 */
import type { IAnalyticsUser, IServerInfo } from '../../tokens';
import { h } from '../../ui/dom';

const CSS = 'jp-AnalyticsSidebar';

export function loadingView(): HTMLElement {
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
    h('span', { text: 'Loading…' })
  );
}

export function errorView(message: string): HTMLElement {
  return h(
    'div',
    { className: `${CSS}-error`, attrs: { role: 'alert' } },
    h('div', {
      className: `${CSS}-errorTitle`,
      text: 'Could not load analytics information'
    }),
    h('div', {
      className: `${CSS}-errorMessage`,
      testId: 'analytics-error',
      text: message
    })
  );
}

export function userView(user: IAnalyticsUser): HTMLElement {
  const displayName = user.display_name || user.username;
  const nameLine = h(
    'div',
    { className: `${CSS}-nameLine` },
    h('span', {
      className: `${CSS}-displayName`,
      testId: 'analytics-user-display-name',
      text: displayName,
      attrs: { title: displayName }
    })
  );
  if (user.is_admin) {
    nameLine.append(
      h('span', {
        className: `${CSS}-badge`,
        testId: 'analytics-user-admin-badge',
        text: 'admin',
        attrs: { title: 'Analytics administrator' }
      })
    );
  }
  const details = h(
    'div',
    { className: `${CSS}-userDetails` },
    nameLine,
    h('div', {
      className: `${CSS}-username`,
      testId: 'analytics-user-username',
      text: user.username,
      attrs: { title: user.username }
    })
  );
  if (user.email) {
    details.append(
      h('div', {
        className: `${CSS}-email`,
        testId: 'analytics-user-email',
        text: user.email,
        attrs: { title: user.email }
      })
    );
  }
  return section(
    'Signed in as',
    h('div', { className: `${CSS}-user` }, avatar(user, displayName), details)
  );
}

export function serverView(info: IServerInfo): HTMLElement {
  const rows: [string, string, string?][] = [
    ['Extension', `analytics_ext ${info.version}`, 'analytics-server-version'],
    [
      'Jupyter Server',
      info.jupyter_server_version,
      'analytics-jupyter-server-version'
    ],
    ['Mode', info.multi_user ? 'Team (multi-user)' : 'Single user'],
    ['Store', info.store]
  ];
  const list = h('dl', { className: `${CSS}-facts` });
  for (const [label, value, testId] of rows) {
    list.append(h('dt', { text: label }), h('dd', { text: value, testId }));
  }
  return section('Server', list);
}

function section(title: string, content: HTMLElement): HTMLElement {
  return h(
    'section',
    { className: `${CSS}-section`, attrs: { 'aria-label': title } },
    h('h3', { className: `${CSS}-sectionTitle`, text: title }),
    content
  );
}

/** The avatar image, replaced by the user's initials if it fails to load. */
function avatar(user: IAnalyticsUser, displayName: string): HTMLElement {
  const initials = h('span', {
    className: `${CSS}-avatar ${CSS}-initials`,
    text: initialsOf(displayName),
    attrs: { 'aria-hidden': 'true' }
  });
  if (!user.avatar_url) {
    return initials;
  }
  const img = h('img', {
    className: `${CSS}-avatar`,
    testId: 'analytics-user-avatar',
    attrs: { alt: '', width: '40', height: '40' }
  });
  img.addEventListener('error', () => img.replaceWith(initials), {
    once: true
  });
  img.src = user.avatar_url;
  return img;
}

function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters =
    words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map(word => Array.from(word)[0].toUpperCase()).join('') || '?';
}
