/**
 * Profile and avatar: display name, email (with the current password the
 * server asks for), time zone, locale (`PATCH api/user`, only changed fields);
 * the picture (`PUT api/user/avatar` with the file's bytes, `DELETE` to go
 * back to the generated one).
 */
import { errorMessage } from '../../api';
import type { IAccountUser, IProfileUpdate } from '../../api/account';
import type { IAnalyticsContext } from '../../context';
import { h } from '../../ui/dom';
import { AccountBlock, CSS, button, messageLine } from './block';
import { avatarChanged, avatarView } from './views';

/** Image types the server decodes (it reads the type from the bytes, not this list). */
export const AVATAR_ACCEPT = 'image/png,image/jpeg,image/gif,image/webp';

type ProfileField = 'display_name' | 'email' | 'timezone' | 'locale';

/** The PATCH body for a profile form: only the fields that differ from `user`. */
export function profileChanges(
  user: IAccountUser,
  values: Record<ProfileField, string>,
  currentPassword: string
): IProfileUpdate {
  const changes: IProfileUpdate = {};
  if (values.display_name !== user.display_name) {
    changes.display_name = values.display_name;
  }
  if (values.email !== (user.email ?? '')) {
    changes.email = values.email;
    if (currentPassword) {
      changes.current_password = currentPassword;
    }
  }
  if (values.timezone !== user.timezone) {
    changes.timezone = values.timezone;
  }
  if (values.locale !== user.locale) {
    changes.locale = values.locale;
  }
  return changes;
}

export class ProfileBlock extends AccountBlock {
  constructor(ctx: IAnalyticsContext) {
    super(ctx, 'profile', 'Profile');
  }

  protected async render(): Promise<Node> {
    const user = await this.ctx.api.account.getUser();
    return h(
      'div',
      { className: `${CSS}-profile` },
      this._avatarPart(user),
      this._formPart(user)
    );
  }

  private _avatarPart(user: IAccountUser): HTMLElement {
    const message = messageLine('account-avatar-message');
    const picture = h(
      'div',
      { className: `${CSS}-bigAvatar` },
      avatarView(user, 96, 'account-avatar-image')
    );
    const input = h('input', {
      className: `${CSS}-fileInput`,
      testId: 'account-avatar-input',
      attrs: {
        type: 'file',
        accept: AVATAR_ACCEPT,
        id: 'analytics-account-avatar-file'
      }
    });
    const choose = h('label', {
      className: `jp-mod-styled ${CSS}-button`,
      text: 'Upload picture…',
      attrs: { for: input.id, tabindex: '0', role: 'button' }
    });
    // A label opens the file chooser on click; keyboard users get Enter/Space too.
    choose.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        input.click();
      }
    });
    const refreshPicture = (): void => {
      avatarChanged();
      picture.replaceChildren(avatarView(user, 96, 'account-avatar-image'));
      this.changed();
    };
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (!file) {
        return;
      }
      message.info(`Uploading ${file.name}…`);
      input.disabled = true;
      void this.ctx.api.account
        .uploadAvatar(file)
        .then(() => {
          message.info('Picture updated.');
          refreshPicture();
        })
        .catch(error => message.error(errorMessage(error)))
        .finally(() => {
          input.disabled = false;
          input.value = '';
        });
    });
    const remove = button(
      'Remove picture',
      'account-avatar-remove',
      async () => {
        message.clear();
        try {
          await this.ctx.api.account.removeAvatar();
          message.info('Picture removed: showing the generated one.');
          refreshPicture();
        } catch (error) {
          message.error(errorMessage(error));
        }
      }
    );
    return h(
      'div',
      { className: `${CSS}-avatarPart` },
      picture,
      h('div', { className: `${CSS}-avatarActions` }, input, choose, remove),
      h('div', {
        className: `${CSS}-hint`,
        text: 'PNG, JPEG, GIF or WebP, up to 2 MiB.'
      }),
      message.node
    );
  }

  private _formPart(user: IAccountUser): HTMLElement {
    const message = messageLine('account-profile-message');
    const fields: Record<ProfileField, HTMLInputElement> = {
      display_name: h('input', {
        attrs: { type: 'text', maxlength: '128', required: '' }
      }),
      email: h('input', { attrs: { type: 'email', maxlength: '254' } }),
      timezone: h('input', {
        attrs: {
          type: 'text',
          maxlength: '64',
          list: 'analytics-account-zones'
        }
      }),
      locale: h('input', { attrs: { type: 'text', maxlength: '35' } })
    };
    const password = h('input', {
      attrs: { type: 'password', autocomplete: 'current-password' }
    });
    const labels: [
      ProfileField | 'current_password',
      string,
      HTMLInputElement,
      string?
    ][] = [
      ['display_name', 'Display name', fields.display_name],
      ['email', 'Email', fields.email],
      [
        'current_password',
        'Current password',
        password,
        'Needed to change your email address (a link to confirm it is mailed to the new one).'
      ],
      [
        'timezone',
        'Time zone',
        fields.timezone,
        'An IANA name such as Europe/Paris or UTC.'
      ],
      ['locale', 'Locale', fields.locale, 'A language tag such as en-US.']
    ];
    const form = h('form', {
      className: `${CSS}-form`,
      testId: 'account-profile-form',
      attrs: { novalidate: '', 'aria-label': 'Profile' }
    });
    for (const [key, label, input, help] of labels) {
      input.id = `analytics-account-${key}`;
      input.className = 'jp-mod-styled';
      input.dataset.testid = `account-profile-${key}`;
      const row = h(
        'div',
        { className: 'jp-AnalyticsSettingsForm-row' },
        h('label', { text: label, attrs: { for: input.id } }),
        input
      );
      if (help) {
        const helpNode = h('div', {
          className: 'jp-AnalyticsSettingsForm-help',
          text: help,
          attrs: { id: `${input.id}-help` }
        });
        input.setAttribute('aria-describedby', helpNode.id);
        row.append(helpNode);
      }
      form.append(row);
    }
    form.append(zoneList());
    const fill = (shown: IAccountUser): void => {
      fields.display_name.value = shown.display_name;
      fields.email.value = shown.email ?? '';
      fields.timezone.value = shown.timezone;
      fields.locale.value = shown.locale;
      password.value = '';
    };
    fill(user);
    let current = user;
    const save = h('button', {
      className: 'jp-mod-styled jp-mod-accept',
      testId: 'account-profile-save',
      text: 'Save profile',
      attrs: { type: 'submit' }
    });
    form.append(
      h('div', { className: 'jp-AnalyticsSettingsForm-actions' }, save),
      message.node
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      if (save.disabled) {
        return;
      }
      const values = {
        display_name: fields.display_name.value,
        email: fields.email.value.trim(),
        timezone: fields.timezone.value.trim(),
        locale: fields.locale.value.trim()
      };
      const changes = profileChanges(current, values, password.value);
      if (Object.keys(changes).length === 0) {
        message.info('Nothing to save.');
        return;
      }
      save.disabled = true;
      message.clear();
      void this.ctx.api.account
        .updateProfile(changes)
        .then(updated => {
          current = updated;
          fill(updated);
          message.info('Profile saved.');
          this.changed();
        })
        .catch(error => message.error(errorMessage(error)))
        .finally(() => {
          save.disabled = false;
        });
    });
    return form;
  }
}

/** Time zone suggestions for the input, where the browser can list them. */
function zoneList(): HTMLElement {
  const list = h('datalist', { attrs: { id: 'analytics-account-zones' } });
  const intl = Intl as unknown as {
    supportedValuesOf?: (key: string) => string[];
  };
  for (const zone of intl.supportedValuesOf?.('timeZone') ?? []) {
    list.append(h('option', { attrs: { value: zone } }));
  }
  return list;
}
