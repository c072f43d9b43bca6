// npm's install step for the native byte path (native/, a Node-API addon): node-gyp against the
// running node's own headers, which the node package ships in PREFIX/include/node (with its OpenSSL
// headers), so nothing is downloaded. Without a compiler, or off Linux, the JavaScript byte path
// runs and this says so; the install does not fail (NATIVE.md section 1).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (sentence) => console.log(`pinhole native byte path: ${sentence}`);

if (process.platform !== 'linux') {
  say(`not built on ${process.platform}; the JavaScript byte path runs.`);
  process.exit(0);
}
if (process.env.PINHOLE_SKIP_NATIVE === '1') {
  say('not built (PINHOLE_SKIP_NATIVE=1); the JavaScript byte path runs.');
  process.exit(0);
}

// npm points npm_config_node_gyp at its bundled node-gyp; outside npm, the one beside this node.
const bundled = resolve(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : undefined);
const prefix = resolve(process.execPath, '..', '..');
const args = ['rebuild', `--directory=${join(root, 'native')}`];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) args.push(`--nodedir=${prefix}`);

const result = gyp === undefined ? spawnSync('node-gyp', args, { stdio: 'inherit' }) : spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' });
if (result.status === 0) {
  say('built (native/build/Release/pinhole_native.node).');
} else {
  say('could not be built (see the compiler output above); the JavaScript byte path runs. Install g++, make and python3, then run `npm rebuild`.');
}
