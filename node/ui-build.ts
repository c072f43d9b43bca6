/**
 * A browser UI is served from its Vite build. When the build is missing or older than its sources
 * (a checkout, an edit), it is built here with Vite's API before the server starts. Used for the
 * desktop renderer (`pinhole console`) and the operator's console (`pinhole-gateway console`).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface UiBuild {
  /** The Vite config that builds it. */
  readonly configFile: string;
  /** Its output folder (holding index.html). */
  readonly outDir: string;
  /** Folders whose files it is built from. */
  readonly sources: readonly string[];
}

const newestMtime = async (dir: string): Promise<number> => {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name.endsWith('.test.ts')) continue;
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(full) : (await stat(full)).mtimeMs);
  }
  return newest;
};

export const uiIsFresh = async (ui: UiBuild): Promise<boolean> => {
  const built = await stat(join(ui.outDir, 'index.html')).catch(() => undefined);
  if (!built) return false;
  const sources = Math.max(...(await Promise.all(ui.sources.map(newestMtime))), await stat(ui.configFile).then((s) => s.mtimeMs, () => 0));
  return built.mtimeMs >= sources;
};

/** Builds the UI if needed; returns the folder to serve. */
export const ensureUiBuilt = async (ui: UiBuild): Promise<string> => {
  if (await uiIsFresh(ui)) return ui.outDir;
  const { build } = await import('vite');
  await build({ configFile: ui.configFile, logLevel: 'error' });
  return ui.outDir;
};
