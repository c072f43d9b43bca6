/**
 * The folder Pinhole is installed in (the one holding its package.json), found from a module's URL:
 * the same answer whether the module runs from its TypeScript source, from dist/ (one folder
 * deeper) or from the Electron bundle.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = (moduleUrl: string): string => {
  const start = dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`No package.json in ${start} or above it.`);
  }
};
