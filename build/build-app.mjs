// Bundles the Electron side for packaging: dist/app/main.js (ESM, Node built-ins and native
// modules external), dist/app/watchdog-entry.js beside it (the system-proxy watchdog the main
// process spawns from its own folder, see main/sysproxy/watchdog.ts) and dist/app/preload.cjs
// (CommonJS: sandboxed preloads cannot load ES modules). Run by scripts/build.mjs (`npm run build`).
// The renderer is built separately by `vite build` into renderer/dist.
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning', external: ['electron', '@napi-rs/keyring', 'vite'] };
const esm = { ...common, format: 'esm', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } };
await build({ ...esm, entryPoints: ['app/main.ts'], outfile: 'dist/app/main.js' });
await build({ ...esm, entryPoints: ['main/sysproxy/watchdog-entry.ts'], outfile: 'dist/app/watchdog-entry.js' });
await build({ ...common, entryPoints: ['app/preload.ts'], format: 'cjs', outfile: 'dist/app/preload.cjs' });
console.log('dist/app/main.js, dist/app/watchdog-entry.js and dist/app/preload.cjs written');
