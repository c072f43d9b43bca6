import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = parse(readFileSync(`${root}electron-builder.yml`, 'utf8')) as Record<string, unknown> & {
  mac: { target: { target: string; arch: string[] }[]; entitlements: string };
  nsis: { oneClick: boolean; perMachine: boolean };
  linux: { target: string[] };
  protocols: { schemes: string[] }[];
  directories: { output: string };
  files: string[];
  extraMetadata: { main: string };
};

test('electron-builder.yml matches the JSON schema electron-builder ships', () => {
  const schema = JSON.parse(readFileSync(`${root}node_modules/app-builder-lib/scheme.json`, 'utf8')) as object;
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  const valid = validate(config);
  assert.equal(valid, true, ajv.errorsText(validate.errors, { separator: '\n' }));
});

test('a misspelt key is caught by the same schema (the check can fail)', () => {
  const schema = JSON.parse(readFileSync(`${root}node_modules/app-builder-lib/scheme.json`, 'utf8')) as object;
  const validate = new Ajv({ strict: false, allowUnionTypes: true }).compile(schema);
  assert.equal(validate({ ...config, nsis: { ...config.nsis, oneClik: false } }), false);
});

test('the installers are the promised ones: dmg x64+arm64, per-user NSIS, AppImage and deb, pinhole:// registered', () => {
  assert.equal(config.appId, 'com.pinhole.desktop');
  assert.equal(config.productName, 'Pinhole');
  assert.deepEqual(config.mac.target, [{ target: 'dmg', arch: ['x64', 'arm64'] }]);
  assert.equal(config.nsis.perMachine, false);
  assert.equal(config.nsis.oneClick, false);
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.deepEqual(config.protocols[0]?.schemes, ['pinhole']);
  assert.equal(config.directories.output, 'release');
  assert.ok(config.files.includes('dist/app/**') && config.files.includes('renderer/dist/**'));
  // What the packaged app starts is the bundle it packs, and what package.json names.
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { main: string };
  assert.equal(config.extraMetadata.main, 'dist/app/main.js');
  assert.equal(pkg.main, config.extraMetadata.main);
});

test('the icons and entitlements the config names exist', () => {
  for (const path of [config.mac.entitlements, 'build/icons/icon.png', 'build/icons/linux/256x256.png', 'build/icons/tray/tray-connected.png', 'build/icons/tray/tray-errorTemplate@2x.png', 'build/linux-after-install.sh']) {
    assert.ok(existsSync(`${root}${path}`), `${path} exists`);
  }
  const icon = readFileSync(`${root}build/icons/icon.png`);
  assert.equal(icon.readUInt32BE(16), 512, 'icon.png is 512 wide');
  assert.equal(icon.readUInt32BE(20), 512, 'icon.png is 512 high');
});
