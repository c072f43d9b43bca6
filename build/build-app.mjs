// Bundles the Electron side for packaging: dist/app/main.js (ESM, Node built-ins and native
// modules external) and dist/app/preload.cjs (CommonJS: sandboxed preloads cannot load ES modules).
// The renderer is built separately by `vite build` into renderer/dist.
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning', external: ['electron', '@napi-rs/keyring', 'vite'] };
await build({ ...common, entryPoints: ['app/main.ts'], format: 'esm', outfile: 'dist/app/main.js', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
await build({ ...common, entryPoints: ['app/preload.ts'], format: 'cjs', outfile: 'dist/app/preload.cjs' });
console.log('dist/app/main.js and dist/app/preload.cjs written');
