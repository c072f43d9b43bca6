// `npm test`: build dist/ (what bin/ runs, so the tests exercise what ships and never a stale
// build), type check, lint, every Node test (unit beside the code, end to end in test/e2e), then
// the browser tests (Playwright in Debian's Chromium), and one closing summary line.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['shared', 'node', 'main', 'gateway', 'app', 'renderer', 'test', 'bench'];
const only = process.argv.slice(2);

const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : walk(full);
    return /\.test\.tsx?$/.test(entry.name) ? [relative(root, full)] : [];
  });

const run = (cmd, args, env = {}) => {
  console.log(`\n$ ${cmd} ${args.length > 12 ? `${args.slice(0, 8).join(' ')} ... (${args.length} args)` : args.join(' ')}`);
  return spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;
};

let failedSteps = 0;
// Also for a few files: they may start bin/pinhole or bin/pinhole-gateway, which run dist/.
if (run(process.execPath, ['scripts/build.mjs']) !== 0) {
  console.log('\nThe build failed: nothing to test.');
  process.exit(1);
}
if (only.length === 0) {
  failedSteps += run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']) === 0 ? 0 : 1;
  failedSteps += run('npx', ['eslint', '.']) === 0 ? 0 : 1;
}

const files = (only.length > 0 ? only : roots.filter((r) => existsSync(join(root, r))).flatMap((r) => walk(join(root, r)))).sort();
const tmp = join(root, 'test-results');
mkdirSync(tmp, { recursive: true });
const tapFile = join(tmp, 'node-tests.tap');
rmSync(tapFile, { force: true });
let passed = 0;
let failed = 0;
let skipped = 0;
if (files.length > 0) {
  run(process.execPath, [
    '--import', 'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=180000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ]);
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  passed += count('pass');
  failed += count('fail') + count('cancelled');
  skipped += count('skipped');
  if (!tap) failed += 1;
}

const hasUiSpecs = existsSync(join(root, 'playwright.config.ts')) && existsSync(join(root, 'test/ui'));
if (only.length === 0 && hasUiSpecs) {
  const jsonFile = join(tmp, 'playwright.json');
  rmSync(jsonFile, { force: true });
  run('npx', ['playwright', 'test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: jsonFile });
  if (existsSync(jsonFile)) {
    const stats = JSON.parse(readFileSync(jsonFile, 'utf8')).stats ?? {};
    passed += (stats.expected ?? 0) + (stats.flaky ?? 0);
    failed += stats.unexpected ?? 0;
    skipped += stats.skipped ?? 0;
  } else {
    failed += 1;
  }
}

if (failedSteps > 0) console.log(`\n${failedSteps} check step(s) (tsc, eslint) failed.`);
console.log(`\ntests: ${passed} passed, ${failed + failedSteps} failed, ${skipped} skipped`);
process.exit(failed + failedSteps > 0 || passed === 0 ? 1 : 0);
