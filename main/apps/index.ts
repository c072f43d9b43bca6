/** The per-app lookup for this OS. */
import { execFileRunner } from '../sysproxy/command-runner.js';
import type { CommandRunner } from '../sysproxy/types.js';
import { LinuxAppLookup } from './linux.js';
import { MacAppLookup } from './macos.js';
import type { AppLookup } from './types.js';
import { WindowsAppLookup } from './windows.js';

export const createAppLookup = (platform: NodeJS.Platform = process.platform, run: CommandRunner = execFileRunner): AppLookup | undefined => {
  if (platform === 'linux') return new LinuxAppLookup();
  if (platform === 'darwin') return new MacAppLookup(run);
  if (platform === 'win32') return new WindowsAppLookup(run);
  return undefined;
};

export { AppRules, SeenApps } from './app-rules.js';
export type { AppIdentity, AppLookup, ConnectionEnds } from './types.js';
export { LinuxAppLookup, MacAppLookup, WindowsAppLookup };
