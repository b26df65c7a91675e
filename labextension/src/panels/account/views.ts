/**
 * Pure views of the account: who is signed in and what server this is. Each
 * function returns a fresh DOM tree; names are set as text.
 */
import type { IAnalyticsUser, IServerInfo } from '../../tokens';
import { h } from '../../ui/dom';
import { cacheBusted, initialsOf } from './format';

const CSS = 'jp-AnalyticsAccount';

/**
 * Bumped after the avatar changes, so every `<img>` built afterwards asks for
 * the new picture (the server lets browsers cache it for five minutes).
 */
let avatarVersion = 0;

export function avatarChanged(): void {
  avatarVersion = Date.now();
}

/** The avatar image, replaced by the user's initials if it fails to load. */
export function avatarView(
  user: IAnalyticsUser,
  size = 40,
  testId = 'analytics-user-avatar'
): HTMLElement {
  const displayName = user.display_name || user.username;
  const initials = h('span', {
    className: `${CSS}-avatar ${CSS}-initials`,
    text: initialsOf(displayName),
    attrs: { 'aria-hidden': 'true', style: `width:${size}px;height:${size}px` }
  });
  if (!user.avatar_url) {
    return initials;
  }
  const img = h('img', {
    className: `${CSS}-avatar`,
    testId,
    attrs: { alt: '', width: String(size), height: String(size) }
  });
  img.addEventListener('error', () => img.replaceWith(initials), {
    once: true
  });
  img.src = cacheBusted(user.avatar_url, avatarVersion);
  return img;
}

/** Avatar, display name, admin badge, username and email. */
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
  return h(
    'section',
    { className: `${CSS}-block`, attrs: { 'aria-label': 'Signed in as' } },
    h('div', { className: `${CSS}-user` }, avatarView(user), details)
  );
}

/** Extension and server versions, mode and store. */
export function serverView(info: IServerInfo): HTMLElement {
  const rows: [string, string, string?][] = [
    ['Extension', `analytics_ext ${info.version}`, 'analytics-server-version'],
    [
      'Jupyter Server',
      info.jupyter_server_version,
      'analytics-jupyter-server-version'
    ],
    [
      'Mode',
      info.multi_user ? 'Team (multi-user)' : 'Single user',
      'analytics-server-mode'
    ],
    ['Store', info.store, 'analytics-server-store']
  ];
  return h(
    'section',
    { className: `${CSS}-block`, attrs: { 'aria-label': 'Server' } },
    h('h3', { className: `${CSS}-blockTitle`, text: 'Server' }),
    factsView(rows)
  );
}

/** A definition list of `[label, value, testId?]` rows. */
export function factsView(rows: [string, string, string?][]): HTMLElement {
  const list = h('dl', { className: `${CSS}-facts` });
  for (const [label, value, testId] of rows) {
    list.append(h('dt', { text: label }), h('dd', { text: value, testId }));
  }
  return list;
}
