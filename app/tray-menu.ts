/**
 * The tray: which image shows the state, and the menu built from the state. Pure, so the menu is
 * tested without Electron; app/main.ts hands the template to Menu.buildFromTemplate.
 */
import type { MenuItemConstructorOptions } from 'electron';
import type { EngineState } from '../shared/engine-api.js';
import type { ENDPOINT_HEALTH, GatewaysStatus } from '../shared/gateway-status.js';

export interface TrayProfile {
  id: string;
  name: string;
}

export interface TrayState {
  state: EngineState;
  gateway?: string;
  /** A profile with several endpoints: the one in use and the others' state. */
  gateways?: GatewaysStatus;
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
  /** Runs the path check (`pinhole doctor`) and tells the verdict in a notification. */
  checkConnection(): void;
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
  checkConnection: string;
  /** The notification when no hop failed. */
  checkPassed: string;
  quit: string;
  status: Record<EngineState, string>;
  gateways: {
    /** {{endpoint}}, {{rtt}} */
    inUse: string;
    /** {{endpoint}}, {{state}} */
    other: string;
    noRtt: string;
    health: Record<(typeof ENDPOINT_HEALTH)[number], string>;
  };
}

export const TRAY_WORDS_EN: TrayWords = {
  connect: 'Connect',
  disconnect: 'Disconnect',
  cancel: 'Stop connecting',
  profiles: 'Profile',
  open: 'Open Pinhole',
  copyAddress: 'Copy proxy address',
  copyExport: 'Copy shell export command',
  checkConnection: 'Check my connection',
  checkPassed: 'Every hop to the gateway passed.',
  quit: 'Quit Pinhole',
  status: {
    disconnected: 'Not connected',
    connecting: 'Connecting…',
    connected: 'Connected',
    reconnecting: 'Reconnecting…',
    error: 'Connection failed',
  },
  gateways: {
    inUse: 'Gateway {{endpoint}} · {{rtt}}',
    other: '{{endpoint}} · {{state}}',
    noRtt: 'no answer yet',
    health: { up: 'answering', down: 'not answering', unknown: 'not measured yet' },
  },
};

const fill = (template: string, values: Record<string, string>): string => template.replace(/\{\{(\w+)\}\}/g, (all: string, name: string) => values[name] ?? all);

/** One disabled line per endpoint while connected with several: the one in use and its round trip first, then the others' state. */
export const gatewayLines = (tray: TrayState, words: TrayWords = TRAY_WORDS_EN): string[] => {
  const gateways = tray.gateways;
  if (tray.state !== 'connected' || !gateways || gateways.endpoints.length < 2) return [];
  const rtt = (ms: number | null): string => (ms === null ? words.gateways.noRtt : `${Math.round(ms)} ms`);
  const inUse = gateways.endpoints.find((e) => e.endpoint === gateways.inUse);
  return [
    fill(words.gateways.inUse, { endpoint: gateways.inUse, rtt: rtt(inUse?.rttMs ?? null) }),
    ...gateways.endpoints
      .filter((e) => e.endpoint !== gateways.inUse)
      .map((e) => fill(words.gateways.other, { endpoint: e.endpoint, state: e.health === 'up' && e.rttMs !== null ? `${words.gateways.health.up}, ${rtt(e.rttMs)}` : words.gateways.health[e.health] })),
  ];
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
    ...gatewayLines(tray, words).map((label, i): MenuItemConstructorOptions => ({ id: `gateway:${i}`, label, enabled: false })),
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
    { id: 'check', label: words.checkConnection, enabled: tray.profiles.length > 0 || on, click: () => actions.checkConnection() },
    { type: 'separator' },
    { id: 'quit', label: words.quit, role: undefined, click: () => actions.quit() },
  );
  return items;
};
