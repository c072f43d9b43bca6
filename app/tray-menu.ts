/**
 * The tray: which image shows the state, and the menu built from the state. Pure, so the menu is
 * tested without Electron; app/main.ts hands the template to Menu.buildFromTemplate.
 */
import type { MenuItemConstructorOptions } from 'electron';
import type { EngineState } from '../shared/engine-api.js';

export interface TrayProfile {
  id: string;
  name: string;
}

export interface TrayState {
  state: EngineState;
  gateway?: string;
  profiles: TrayProfile[];
  /** The profile connected now, or the one Connect would use. */
  activeProfileId: string | null;
  proxyAddress: string;
  shellExport: string;
}

export interface TrayActions {
  connect(profileId?: string): void;
  disconnect(): void;
  open(): void;
  copy(text: string): void;
  quit(): void;
}

/** Menu words; the shell fills them from the `tray` section of shared/i18n/*.json (app/tray-words.ts). */
export interface TrayWords {
  connect: string;
  disconnect: string;
  cancel: string;
  profiles: string;
  open: string;
  copyAddress: string;
  copyExport: string;
  quit: string;
  status: Record<EngineState, string>;
}

export const TRAY_WORDS_EN: TrayWords = {
  connect: 'Connect',
  disconnect: 'Disconnect',
  cancel: 'Stop connecting',
  profiles: 'Profile',
  open: 'Open Pinhole',
  copyAddress: 'Copy proxy address',
  copyExport: 'Copy shell export command',
  quit: 'Quit Pinhole',
  status: {
    disconnected: 'Not connected',
    connecting: 'Connecting…',
    connected: 'Connected',
    reconnecting: 'Reconnecting…',
    error: 'Connection failed',
  },
};

export type TrayImage = 'disconnected' | 'connecting' | 'connected' | 'error';

export const trayImageFor = (state: EngineState): TrayImage =>
  state === 'connected' ? 'connected' : state === 'connecting' || state === 'reconnecting' ? 'connecting' : state === 'error' ? 'error' : 'disconnected';

/** File under build/icons/tray: macOS gets monochrome template images (named *Template.png). */
export const trayImageFile = (state: EngineState, platform: NodeJS.Platform): string =>
  platform === 'darwin' ? `tray-${trayImageFor(state)}Template.png` : `tray-${trayImageFor(state)}.png`;

export const trayTooltip = (tray: TrayState, words: TrayWords = TRAY_WORDS_EN): string =>
  `Pinhole: ${words.status[tray.state]}${tray.state === 'connected' && tray.gateway ? ` (${tray.gateway})` : ''}`;

export const buildTrayMenu = (tray: TrayState, actions: TrayActions, words: TrayWords = TRAY_WORDS_EN): MenuItemConstructorOptions[] => {
  const busy = tray.state === 'connecting' || tray.state === 'reconnecting';
  const on = tray.state === 'connected' || busy;
  const statusLine = `${words.status[tray.state]}${tray.state === 'connected' && tray.gateway ? ` · ${tray.gateway}` : ''}`;
  const items: MenuItemConstructorOptions[] = [
    { id: 'status', label: statusLine, enabled: false },
    { type: 'separator' },
    on
      ? { id: 'disconnect', label: busy ? words.cancel : words.disconnect, click: () => actions.disconnect() }
      : { id: 'connect', label: words.connect, enabled: tray.profiles.length > 0, click: () => actions.connect(tray.activeProfileId ?? undefined) },
  ];
  if (tray.profiles.length > 0) {
    items.push({
      id: 'profiles',
      label: words.profiles,
      submenu: tray.profiles.map((profile) => ({
        id: `profile:${profile.id}`,
        label: profile.name,
        type: 'radio',
        checked: profile.id === tray.activeProfileId,
        click: () => actions.connect(profile.id),
      })),
    });
  }
  items.push(
    { type: 'separator' },
    { id: 'open', label: words.open, click: () => actions.open() },
    { id: 'copy-address', label: words.copyAddress, click: () => actions.copy(tray.proxyAddress) },
    { id: 'copy-export', label: words.copyExport, click: () => actions.copy(tray.shellExport) },
    { type: 'separator' },
    { id: 'quit', label: words.quit, role: undefined, click: () => actions.quit() },
  );
  return items;
};
