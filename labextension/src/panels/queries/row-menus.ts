/**
 * The two menus a saved-query row opens from its buttons: Export ▸ (one item
 * a format) and "More" (every command on the query). Their items are the
 * section's commands with the query's id as argument, so a menu item, the
 * context menu and the palette run the same code.
 */
import type { CommandRegistry } from '@lumino/commands';
import { Menu } from '@lumino/widgets';

import { ADD_TO_DASHBOARD_COMMAND } from '../dashboards/add-tile-model';
import { QueryCommandIDs } from './commands-ids';
import { EXPORT_FORMATS } from './export';
import { CSS } from './views';

export function exportMenu(commands: CommandRegistry, id: string): Menu {
  const menu = new Menu({ commands });
  menu.addClass(`${CSS}-menu`);
  for (const { format } of EXPORT_FORMATS) {
    menu.addItem({
      command: QueryCommandIDs.exportQuery,
      args: { id, format }
    });
  }
  return menu;
}

/** `name` goes to Add to dashboard, which names the tile after the query. */
export function moreMenu(
  commands: CommandRegistry,
  id: string,
  name: string
): Menu {
  const menu = new Menu({ commands });
  menu.addClass(`${CSS}-menu`);
  menu.addItem({ command: QueryCommandIDs.openQuery, args: { id } });
  menu.addItem({ command: QueryCommandIDs.toggleFavorite, args: { id } });
  menu.addItem({ command: QueryCommandIDs.shareQuery, args: { id } });
  menu.addItem({ command: QueryCommandIDs.saveAsTemplate, args: { id } });
  menu.addItem({
    command: ADD_TO_DASHBOARD_COMMAND,
    args: { kind: 'query', id, name }
  });
  menu.addItem({ type: 'separator' });
  menu.addItem({ command: QueryCommandIDs.renameQuery, args: { id } });
  menu.addItem({ command: QueryCommandIDs.deleteQuery, args: { id } });
  return menu;
}

/** Open `menu` under `anchor`; it disposes of itself once closed. */
export function openMenu(menu: Menu, anchor: HTMLElement): void {
  const box = anchor.getBoundingClientRect();
  menu.aboutToClose.connect(() => {
    // Dispose after the triggered command has read its arguments.
    requestAnimationFrame(() => menu.dispose());
  });
  menu.open(box.left, box.bottom);
}
