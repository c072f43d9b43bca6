/**
 * The console serves renderer/dist. When it is missing or older than the renderer's sources (a
 * checkout, an edit), it is built here with Vite's API before the server starts.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../node/package-root.js';

export const repoRoot = packageRoot(import.meta.url);
export const rendererDist = join(repoRoot, 'renderer', 'dist');

const newestMtime = async (dir: string): Promise<number> => {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name.endsWith('.test.ts')) continue;
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(full) : (await stat(full)).mtimeMs);
  }
  return newest;
};

export const rendererIsFresh = async (): Promise<boolean> => {
  const built = await stat(join(rendererDist, 'index.html')).catch(() => undefined);
  if (!built) return false;
  const sources = Math.max(await newestMtime(join(repoRoot, 'renderer')), await newestMtime(join(repoRoot, 'shared')));
  return built.mtimeMs >= sources;
};

/** Builds the renderer if needed; returns the folder to serve. */
export const ensureRendererBuilt = async (): Promise<string> => {
  if (await rendererIsFresh()) return rendererDist;
  const { build } = await import('vite');
  await build({ configFile: join(repoRoot, 'vite.config.ts'), logLevel: 'error' });
  return rendererDist;
};
