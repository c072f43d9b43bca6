/** The console serves renderer/dist, built on demand (node/ui-build.ts). */
import { join } from 'node:path';
import { packageRoot } from '../../node/package-root.js';
import { ensureUiBuilt, uiIsFresh, type UiBuild } from '../../node/ui-build.js';

export const repoRoot = packageRoot(import.meta.url);
export const rendererDist = join(repoRoot, 'renderer', 'dist');

const renderer: UiBuild = { configFile: join(repoRoot, 'vite.config.ts'), outDir: rendererDist, sources: [join(repoRoot, 'renderer'), join(repoRoot, 'shared')] };

export const rendererIsFresh = (): Promise<boolean> => uiIsFresh(renderer);

/** Builds the renderer if needed; returns the folder to serve. */
export const ensureRendererBuilt = (): Promise<string> => ensureUiBuilt(renderer);
