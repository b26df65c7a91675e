/**
 * The share dialog every panel opens (`openShareDialog`): the Dialog shell
 * around `ShareDialogBody` (grant list, person form, link box). The shell only
 * titles the dialog, routes keys the body's fields need before the Dialog
 * takes them, and tells the object's area when the server accepted a change;
 * everything that talks to the server lives in the body.
 */
import { Dialog } from '@jupyterlab/apputils';

import type { IUserMatch, ShareArea } from '../api/sharing';
import type { AnalyticsArea, IAnalyticsContext } from '../context';
import { type IShareDialogOptions, ShareDialogBody } from './share-dialog-body';

/** Callers describe the object with these, without importing the body. */
export type { IShareDialogOptions, ShareArea };

const AREA_OF: Record<ShareArea, AnalyticsArea> = {
  datasources: 'datasources',
  query: 'queries',
  chart: 'charts',
  dashboards: 'dashboards'
};

/**
 * Open the share dialog for one object and resolve when it is closed.
 * Changes are made as the user acts (there is nothing to save at the end);
 * each one tells the object's area that it changed.
 */
export async function openShareDialog(
  ctx: IAnalyticsContext,
  options: IShareDialogOptions
): Promise<void> {
  const body = new ShareDialogBody(ctx.api.sharing, options, {
    onChange: () =>
      ctx.notifyChanged({ area: AREA_OF[options.area], id: options.objectId })
  });
  const dialog = new ShareDialog(body, options.objectName);
  try {
    await dialog.launch();
  } finally {
    body.dispose();
    dialog.dispose();
  }
}

/**
 * JupyterLab's Dialog takes Enter in any text field as "press the default
 * button" and Escape as "close", before the field sees the key. The share
 * form's fields use both keys themselves (pick a suggestion, create a link,
 * close the suggestions), so the body decides first.
 */
class ShareDialog extends Dialog<void> {
  constructor(body: ShareDialogBody, objectName: string) {
    super({
      title: `Share “${objectName}”`,
      body,
      buttons: [Dialog.okButton({ label: 'Done' })],
      focusNodeSelector: '[data-testid="share-user-input"]'
    });
    this._shareBody = body;
    this.addClass('jp-AnalyticsShareDialog');
  }

  protected override _evtKeydown(event: KeyboardEvent): void {
    if (this._shareBody.handlesKey(event)) {
      return;
    }
    super._evtKeydown(event);
  }

  private readonly _shareBody: ShareDialogBody;
}

/** For callers that want the user type without importing the API module. */
export type { IUserMatch };
