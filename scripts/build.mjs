// `npm run build`, also run by `npm ci` and `npm install` (the `prepare` script): the TypeScript
// sources compiled once into dist/, one .js file per .ts file with its source map beside it, and
// the two commands `bin/` starts bundled into dist/bin/ (below), so stack traces still name the
// TypeScript lines. esbuild, not tsc: it only strips types (tsc --noEmit checks them in `npm test`),
// 0.3 s of CPU against tsc's 9 s with --noCheck and 25 s with the check. Then the Electron bundles
// (build/build-app.mjs).
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
await bundleCommands();
// Data the code imports (the catalogues: `import en from './i18n/en.json' with { type: 'json' }`).
for (const file of files.filter((f) => f.endsWith('.json'))) {
  const target = join(out, relative(root, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}
/**
 * What bin/ runs: `pinhole-gateway` and `pinhole` bundled with their dependencies, one folder, split
 * into chunks so a command loads only what it imports (`--help` loads neither the tunnels nor the
 * gateway). Loading ~420 files one by one (ESM resolution, package.json lookups, the CommonJS
 * lexer for each dependency) was half of the gateway's start-up CPU. Native addons, pino-pretty
 * (required on demand by shared/log.ts), ioredis (idem, gateway/auth/shared-state.ts) and vite (the
 * console builds its page with it in a checkout, main/console/renderer-build.ts) stay in
 * node_modules, and so does @peculiar/x509 with its Reflect polyfill (loaded by `init` and
 * `provision` only, gateway/certs.ts; the polyfill does not survive bundling). The watchdog is an entry beside them: main/sysproxy/watchdog.ts starts it from
 * its own folder. The map beside each file names the TypeScript sources (--enable-source-maps).
 */
async function bundleCommands() {
  const entries = [
    ['gateway', 'pinhole-gateway', 'gateway/cli/main.ts'],
    ['main', 'pinhole', 'main/cli/pinhole.ts'],
    ['main', 'watchdog-entry', 'main/sysproxy/watchdog-entry.ts'],
  ].filter(([dir]) => roots.includes(dir));
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(entries.map(([, name, file]) => [name, file])),
    outdir: join(out, 'bin'),
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    sourcemap: 'linked',
    sourcesContent: false,
    external: ['@node-rs/bcrypt', '@napi-rs/keyring', 'pino-pretty', 'ioredis', 'electron', 'vite', '@peculiar/x509', 'reflect-metadata'],
    // Bundled CommonJS dependencies call require() for Node's built-ins.
    banner: { js: "import { createRequire as __pinholeRequire } from 'node:module'; const require = __pinholeRequire(import.meta.url);" },
    plugins: [zodEnglishOnly(), rateLimitersUsed()],
    logLevel: 'warning',
  });
}

/**
 * zod's `z` namespace carries its error messages in 48 languages (`z.locales`, 360 KB the gateway
 * would parse at every start); Pinhole's messages are its own and zod's default is English, so
 * the bundle keeps English alone. Tests run the sources and keep them all.
 */
/**
 * rate-limiter-flexible's index loads every store it supports (Mongo, MySQL, Postgres, Dynamo,
 * etcd, ...: 170 KB); the gateway uses two. A name imported from it that is not listed here fails
 * the build (esbuild checks named imports), never the gateway at run time.
 */
function rateLimitersUsed() {
  return {
    name: 'rate-limiters-used',
    setup(build) {
      build.onResolve({ filter: /^rate-limiter-flexible$/ }, () => ({ path: 'rate-limiter-flexible', namespace: 'rate-limiters-used' }));
      build.onLoad({ filter: /.*/, namespace: 'rate-limiters-used' }, () => ({
        contents: ['RateLimiterMemory', 'RateLimiterRedis'].map((name) => `export { default as ${name} } from 'rate-limiter-flexible/lib/${name}.js';`).join('\n'),
        resolveDir: root,
      }));
    },
  };
}

function zodEnglishOnly() {
  return {
    name: 'zod-english-only',
    setup(build) {
      build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
        contents: 'export { default as en } from "./en.js";\n',
        resolveDir: dirname(args.path),
      }));
    },
  };
}

if (existsSync(join(root, 'app'))) {
  process.chdir(root);
  await import('../build/build-app.mjs');
}
console.log(`dist/ built from ${roots.join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
