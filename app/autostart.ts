/**
 * Start at login. macOS and Windows use Electron's login items; Linux has none, so Pinhole writes
 * an XDG autostart entry (~/.config/autostart/pinhole.desktop) and removes it when turned off.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const autostartEntry = (execPath: string): string =>
  ['[Desktop Entry]', 'Type=Application', 'Name=Pinhole', 'Comment=Pinhole tray', `Exec="${execPath.replace(/(["\\`$])/g, '\\$1')}" --hidden`, 'Icon=pinhole', 'X-GNOME-Autostart-enabled=true', 'Terminal=false', ''].join('\n');

export const autostartPath = (configHome: string): string => join(configHome, 'autostart', 'pinhole.desktop');

export const setLinuxAutostart = async (enabled: boolean, execPath: string, configHome: string): Promise<void> => {
  const path = autostartPath(configHome);
  if (!enabled) {
    await rm(path, { force: true });
    return;
  }
  await mkdir(join(configHome, 'autostart'), { recursive: true });
  await writeFile(path, autostartEntry(execPath), { mode: 0o644 });
};
