/**
 * Which adapter speaks to this machine's proxy settings: the platform first, then on Linux and
 * the BSDs the desktop from XDG_CURRENT_DESKTOP / DESKTOP_SESSION, overridable with
 * PINHOLE_DESKTOP (or the `desktop` option).
 *
 * Desktops whose proxy settings live in GNOME's `org.gnome.system.proxy` schema (the same keys
 * and meanings, shown in their own settings panels): GNOME (and GNOME Flashback, Ubuntu's
 * `ubuntu:GNOME`), Unity, Cinnamon (cinnamon-settings' network panel), Budgie, MATE
 * (mate-network-properties uses the GNOME schema) and Pantheon. KDE Plasma uses kioslaverc.
 * Anything else (XFCE, LXQt, tiling window managers...) has no system proxy to set.
 */
import { PinholeError } from '../../shared/errors.js';
import { shellExportLine } from './bypass.js';
import { execFileRunner } from './command-runner.js';
import { createGnomeAdapter } from './gnome.js';
import { createKdeAdapter } from './kde.js';
import { createMacosAdapter } from './macos.js';
import { createWindowsAdapter } from './windows.js';
import type { CommandRunner, SystemProxyAdapter } from './types.js';

export const GNOME_SCHEMA_DESKTOPS = ['gnome', 'gnome-flashback', 'ubuntu', 'unity', 'cinnamon', 'x-cinnamon', 'budgie', 'budgie-desktop', 'mate', 'pantheon'] as const;
const KDE_DESKTOPS = ['kde', 'plasma', 'plasmawayland', 'plasmax11'];

export type AdapterName = 'gnome' | 'kde5' | 'kde6' | 'macos' | 'windows';

/** The adapter with this name (as stored in a state file). */
export const adapterByName = (name: string, runner: CommandRunner = execFileRunner): SystemProxyAdapter => {
  switch (name) {
    case 'gnome':
      return createGnomeAdapter({ runner });
    case 'kde5':
    case 'kde':
      return createKdeAdapter({ runner, version: 5 });
    case 'kde6':
      return createKdeAdapter({ runner, version: 6 });
    case 'macos':
      return createMacosAdapter({ runner });
    case 'windows':
      return createWindowsAdapter({ runner });
    default:
      throw new PinholeError('PINHOLE_SYSTEM_PROXY_UNSUPPORTED', `There is no system proxy adapter called "${name}".`);
  }
};

export interface DetectOptions {
  platform?: NodeJS.Platform;
  /** Overrides the environment: an adapter name (gnome, kde, kde5, kde6, macos, windows) or a desktop name. */
  desktop?: string;
  runner?: CommandRunner;
  /** Only used to fill in the shell export line in the error. */
  host?: string;
  port?: number;
}

type Env = Record<string, string | undefined>;

/** The adapter name for a desktop description (a colon-separated XDG_CURRENT_DESKTOP list works). */
export const desktopAdapterName = (desktop: string, env: Env = {}): AdapterName | undefined => {
  const parts = desktop.toLowerCase().split(':').map((p) => p.trim()).filter((p) => p !== '');
  for (const part of parts) {
    if (part === 'gnome' || part === 'macos' || part === 'windows' || part === 'kde5' || part === 'kde6') return part;
    if (KDE_DESKTOPS.includes(part)) return env.KDE_SESSION_VERSION === '6' ? 'kde6' : 'kde5';
    if ((GNOME_SCHEMA_DESKTOPS as readonly string[]).includes(part)) return 'gnome';
  }
  return undefined;
};

export const detectAdapter = (env: Env = process.env, options: DetectOptions = {}): SystemProxyAdapter => {
  const runner = options.runner ?? execFileRunner;
  const override = options.desktop ?? env.PINHOLE_DESKTOP;
  if (override !== undefined && override !== '') {
    const name = desktopAdapterName(override, env);
    if (name) return adapterByName(name, runner);
  } else {
    const platform = options.platform ?? process.platform;
    if (platform === 'darwin') return adapterByName('macos', runner);
    if (platform === 'win32') return adapterByName('windows', runner);
    for (const candidate of [env.XDG_CURRENT_DESKTOP, env.DESKTOP_SESSION]) {
      const name = candidate ? desktopAdapterName(candidate, env) : undefined;
      if (name) return adapterByName(name, runner);
    }
  }
  const seen = override || env.XDG_CURRENT_DESKTOP || env.DESKTOP_SESSION || 'none';
  const line = shellExportLine(options.host ?? '127.0.0.1', options.port ?? 'PORT');
  throw new PinholeError(
    'PINHOLE_SYSTEM_PROXY_UNSUPPORTED',
    `This desktop (${seen}) is not recognised, so Pinhole cannot set the system proxy. In a shell, run: ${line}`,
    { details: { desktop: seen, exportLine: line } },
  );
};
