// `npm run build`, also run by `npm ci` and `npm install` (the `prepare` script): the TypeScript
// sources compiled once into dist/, one .js file per .ts file with its source map beside it, so
// `bin/` starts plain JavaScript and stack traces still name the TypeScript lines. esbuild, not
// tsc: it only strips types (tsc --noEmit checks them in `npm test`), 0.3 s of CPU against tsc's
// 9 s with --noCheck and 25 s with the check. Then the Electron bundles (build/build-app.mjs).
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist');
// Only what is there: the gateway's container image copies shared/, node/ and gateway/ alone.
const roots = ['shared', 'node', 'main', 'gateway'].filter((dir) => existsSync(join(root, dir)));

const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
const files = roots.flatMap((dir) => walk(join(root, dir))).filter((file) => !/\.test\.tsx?$/.test(file));

// esbuild is a development dependency: a production install (npm ci --omit=dev) cannot build.
const esbuild = await import('esbuild').catch(() => undefined);
if (esbuild === undefined) {
  console.error('scripts/build.mjs: esbuild is not installed (npm ci --omit=dev?). Install with the development dependencies (npm ci builds dist/), then drop them: npm prune --omit=dev.');
  process.exit(1);
}

const started = performance.now();
// A file deleted from the sources must not live on in dist/.
rmSync(out, { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: files.filter((file) => /\.tsx?$/.test(file) && !file.endsWith('.d.ts')),
  outdir: out,
  outbase: root,
  format: 'esm',
  platform: 'node',
  // package.json's engines: from Node 20.19 on, whose import attributes (JSON catalogues) must be kept.
  target: 'node20.19',
  sourcemap: 'linked',
  // The map names the .ts file and line; the sources themselves need not be copied into it.
  sourcesContent: false,
  logLevel: 'warning',
});
// Data the code imports (the catalogues: `import en from './i18n/en.json' with { type: 'json' }`).
for (const file of files.filter((f) => f.endsWith('.json'))) {
  const target = join(out, relative(root, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}
if (existsSync(join(root, 'app'))) {
  process.chdir(root);
  await import('../build/build-app.mjs');
}
console.log(`dist/ built from ${roots.join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
