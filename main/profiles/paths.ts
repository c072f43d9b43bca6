/** The folder Pinhole keeps its settings in, by OS convention, overridable with PINHOLE_CONFIG_DIR. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const configDir = (env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string => {
  if (env.PINHOLE_CONFIG_DIR) return env.PINHOLE_CONFIG_DIR;
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'pinhole');
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'pinhole');
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'pinhole');
};
