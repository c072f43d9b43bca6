/**
 * The desktop app itself, through Playwright's Electron driver: it launches, puts its tray up,
 * renders the same UI as the console, connects to a local gateway, and on Quit disconnects and
 * restores the system proxy. Electron's binary cannot be downloaded on the development machines,
 * so here these tests skip and say why; the desktop workflow runs them on Linux, macOS and Windows.
 */
import { test, expect, type ElectronApplication } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { repoRoot } from '../support/processes.js';

/** The Electron binary npm installed, if its download happened (node_modules/electron/path.txt). */
const electronBinary = (): string | undefined => {
  const pathFile = join(repoRoot, 'node_modules', 'electron', 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = join(repoRoot, 'node_modules', 'electron', 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
};

const binary = electronBinary();
const mainScript = join(repoRoot, 'dist', 'app', 'main.js');

test.skip(!binary, 'No Electron binary here (node_modules/electron was installed without its download); the desktop workflow runs these tests on GitHub runners.');

let app: ElectronApplication;
let home: string;

test.beforeEach(async () => {
  expect(existsSync(mainScript), 'run `node build/build-app.mjs` and `npx vite build` first').toBe(true);
  home = await mkdtemp(join(tmpdir(), 'pinhole-electron-'));
  const { _electron } = await import('@playwright/test');
  app = await _electron.launch({
    executablePath: binary,
    args: [mainScript, '--no-sandbox'],
    env: { ...process.env, HOME: home, PINHOLE_CONFIG_DIR: join(home, 'config'), PINHOLE_SECRETS: 'encrypted-file', PINHOLE_SECRETS_PASSPHRASE: 'electron-test' },
  });
});

test.afterEach(async () => {
  await app?.close().catch(() => undefined);
  if (home) await rm(home, { recursive: true, force: true });
});

test('the app starts with a tray and a window that renders the Pinhole UI', async () => {
  const window = await app.firstWindow();
  await expect(window).toHaveTitle('Pinhole');
  await expect(window.getByRole('heading', { name: 'Welcome to Pinhole' })).toBeVisible();
  const tray = await app.evaluate(() => (globalThis as { pinholeTray?: { getToolTip?: () => string } }).pinholeTray?.getToolTip?.() ?? null);
  expect(tray).toMatch(/^Pinhole: /);
  // The page has no Node: the bridge exposes only invoke and subscribe.
  expect(await window.evaluate(() => Object.keys((window as unknown as { pinhole: object }).pinhole).sort())).toEqual(['invoke', 'subscribe']);
  expect(await window.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
});

test('connects to a local gateway from a pasted link, and Quit disconnects first', async () => {
  let origin: Origin | undefined;
  let gateway: RunningGateway | undefined;
  try {
    origin = await startOrigin();
    gateway = await startGateway({ restrictTo: [`127.0.0.1:${origin.httpPort}`] });
    const window = await app.firstWindow();
    await window.getByRole('button', { name: 'Add a profile' }).click();
    await window.getByLabel('Paste a Pinhole link').fill(await gateway.provision());
    await expect(window.getByTestId('link-preview')).toContainText(`127.0.0.1:${gateway.port}`);
    await window.getByRole('button', { name: 'Save profile' }).click();
    await window.getByRole('tab', { name: 'Home' }).click();
    await window.getByRole('switch', { name: 'Connect' }).click();
    await expect(window.getByTestId('state-words')).toContainText(`Connected to ${gateway.hostname}`);
    const exited = new Promise<void>((resolve) => app.process().once('exit', () => resolve()));
    await app.evaluate(({ app: electronApp }) => electronApp.quit());
    await exited;
    expect(app.process().exitCode).toBe(0);
  } finally {
    await gateway?.stop();
    await origin?.stop();
  }
});
