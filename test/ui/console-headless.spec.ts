/**
 * A headless box's first run (issue 13), in Debian's Chromium against `bin/pinhole console`
 * started with no D-Bus session and no keyring, and a real gateway: the UI loads and says no
 * keychain answers, a pasted link connects for this session only, then a passphrase-encrypted
 * secrets file is chosen in the UI and the profile saved; after a restart the profile connects
 * again (once with --secrets-file and PINHOLE_SECRETS_PASSPHRASE, once unlocked in the UI), and
 * no file under the config folder ever holds the password in the clear.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { repoRoot } from '../support/processes.js';
import { makeHeadlessHome, startHeadlessConsole, type ConsoleProcess, type HeadlessHome } from './support/console-process.js';

const run = promisify(execFile);
const screens = join(repoRoot, 'test-results', 'screens');
const PASSPHRASE = 'headless box passphrase 42';

let origin: Origin;
let gateway: RunningGateway;
let home: HeadlessHome;
let consoleProcess: ConsoleProcess | undefined;

test.use({ locale: 'en-US' });

const curlThrough = async (proxy: string, url: string): Promise<string> => {
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', '-x', `http://${proxy}`, url], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  return stdout;
};

/** Every file under a folder, with its text. */
const filesUnder = async (dir: string): Promise<{ path: string; text: string }[]> => {
  const out: { path: string; text: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push({ path: full, text: await readFile(full, 'latin1') });
  }
  return out;
};

const expectNoCleartext = async (secrets: string[]): Promise<void> => {
  for (const file of await filesUnder(home.configDir)) for (const secret of secrets) expect(file.text, `${file.path} must not hold a secret`).not.toContain(secret);
};

/** On Home: the switch connects, the state reads as a sentence, and a request goes through the local proxy. */
const connectAndFetch = async (page: Page): Promise<void> => {
  await page.getByRole('tab', { name: 'Home' }).click();
  const toggle = page.getByRole('switch', { name: 'Connect' });
  if ((await toggle.getAttribute('aria-checked')) !== 'true') await toggle.click();
  await expectConnectedAndFetch(page);
};

const expectConnectedAndFetch = async (page: Page): Promise<void> => {
  await expect(page.getByTestId('state-words')).toHaveText(new RegExp(`^Connected to ${gateway.hostname.replace(/\./g, '\\.')}( via .+)?$`));
  const proxy = (await page.getByTestId('proxy-address').textContent())?.trim() ?? '';
  expect(proxy).toMatch(/^127\.0\.0\.1:\d+$/);
  const body = await curlThrough(proxy, `http://127.0.0.1:${origin.httpPort}/bytes/2000`);
  expect(body.length).toBeGreaterThan(0);
};

const disconnect = async (page: Page): Promise<void> => {
  await page.getByRole('tab', { name: 'Home' }).click();
  await page.getByRole('switch', { name: 'Connect' }).click();
  await expect(page.getByTestId('state-words')).toHaveText('Not connected');
};

test.beforeAll(async () => {
  await mkdir(screens, { recursive: true });
  origin = await startOrigin();
  gateway = await startGateway({ restrictTo: [`127.0.0.1:${origin.httpPort}`] });
  home = await makeHeadlessHome();
});

test.afterAll(async () => {
  await consoleProcess?.stop();
  await gateway?.stop();
  await origin?.stop();
  await home?.remove();
});

test('without a keychain: a link connects for the session, a secrets file keeps the profile across restarts, nothing is written in the clear', async ({ page, browser }) => {
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(String(error)));
  const password = gateway.users[0]?.password ?? 'missing';
  const link = await gateway.provision();

  consoleProcess = await startHeadlessConsole(home);
  expect(consoleProcess.program.lines.map((l) => l.text).join('\n')).toContain('No system keychain answers');
  await page.goto(consoleProcess.url);
  await expect(page.getByRole('heading', { name: 'Welcome to Pinhole' })).toBeVisible();

  // Settings and Profiles both say no keychain answers, and offer the two ways on.
  await page.getByRole('tab', { name: 'Settings' }).click();
  const settingsChoice = page.getByTestId('secrets-choice');
  await expect(settingsChoice).toContainText('No keychain answers');
  await expect(settingsChoice.getByRole('button', { name: 'Try the keychain again' })).toBeVisible();
  await expect(page.getByText('nowhere yet: no keychain answers')).toBeVisible();
  await page.getByRole('tab', { name: 'Profiles' }).click();
  const choice = page.getByTestId('secrets-choice');
  await expect(choice).toContainText('Start a keyring');
  await expect(choice).toContainText('Use a passphrase-encrypted secrets file');
  await expect(choice.getByLabel('Secrets file', { exact: true })).toHaveValue(join(home.configDir, 'secrets.enc.json'));
  // Asking the keychain again, still without a keyring, says why in the UI.
  await choice.getByRole('button', { name: 'Try the keychain again' }).click();
  await expect(choice.getByRole('alert')).toContainText('No system keychain is reachable');
  await page.screenshot({ path: join(screens, 'headless-01-no-keychain.png') });

  // A pasted link: it cannot be saved yet, but connects for this session.
  await page.getByLabel('Paste a Pinhole link').fill(link);
  const preview = page.getByTestId('link-preview');
  await expect(preview).toContainText(`127.0.0.1:${gateway.port}`);
  await expect(preview).toContainText('Saving needs a keychain or a secrets file');
  await expect(preview.getByRole('button', { name: 'Save profile' })).toBeDisabled();
  await preview.getByRole('button', { name: 'Connect for this session' }).click();
  await expect(page.getByRole('status')).toContainText('for this session');
  await page.getByRole('tab', { name: 'Home' }).click();
  await expectConnectedAndFetch(page);
  await expectNoCleartext([password, link]);
  expect(consoleProcess.program.lines.map((l) => l.text).join('\n')).not.toContain(password);

  // Switch to a passphrase-encrypted secrets file in the UI, then save the profile from the same link.
  await page.getByRole('tab', { name: 'Profiles' }).click();
  await choice.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await choice.getByRole('button', { name: 'Use this file' }).click();
  await expect(page.getByTestId('secrets-choice')).toHaveCount(0);
  await page.getByLabel('Paste a Pinhole link').fill(link);
  await expect(preview.getByText(/The password is stored in a passphrase-encrypted file/)).toBeVisible();
  await preview.getByRole('button', { name: 'Save profile' }).click();
  const item = page.getByTestId('profile-item');
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('password in the secrets file');
  await page.screenshot({ path: join(screens, 'headless-02-saved-in-file.png') });
  await disconnect(page);
  await consoleProcess.stop();
  consoleProcess = undefined;
  const files = await filesUnder(home.configDir);
  expect(files.map((f) => f.path)).toContain(join(home.configDir, 'secrets.enc.json'));
  await expectNoCleartext([password, link, PASSPHRASE]);

  // Restart with --secrets-file and the passphrase in the environment: the profile connects at once.
  consoleProcess = await startHeadlessConsole(home, { args: ['--secrets-file', join(home.configDir, 'secrets.enc.json')], extraEnv: { PINHOLE_SECRETS_PASSPHRASE: PASSPHRASE } });
  const second = await browser.newPage();
  await second.goto(consoleProcess.url);
  await second.getByRole('tab', { name: 'Profiles' }).click();
  await expect(second.getByTestId('profile-item')).toContainText('password in the secrets file');
  await expect(second.getByTestId('secrets-choice')).toHaveCount(0);
  await connectAndFetch(second);
  await disconnect(second);
  await consoleProcess.stop();
  consoleProcess = undefined;

  // Restart plainly: the UI asks for the secrets file, then the stored profile connects again.
  consoleProcess = await startHeadlessConsole(home);
  const third = await browser.newPage();
  await third.goto(consoleProcess.url);
  await third.getByRole('tab', { name: 'Profiles' }).click();
  await expect(third.getByTestId('profile-item')).toContainText('no password stored');
  const unlock = third.getByTestId('secrets-choice');
  await unlock.getByLabel('Passphrase', { exact: true }).fill('not the passphrase');
  await unlock.getByRole('button', { name: 'Use this file' }).click();
  await expect(unlock.getByRole('alert')).toContainText('The passphrase does not open the encrypted secrets file');
  await unlock.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await unlock.getByRole('button', { name: 'Use this file' }).click();
  await expect(third.getByTestId('profile-item')).toContainText('password in the secrets file');
  await connectAndFetch(third);
  await third.screenshot({ path: join(screens, 'headless-03-after-restart.png') });
  await disconnect(third);
  await expectNoCleartext([password, link, PASSPHRASE]);
  expect(consoleProcess.program.lines.map((l) => l.text).join('\n')).not.toContain(PASSPHRASE);
  expect(failures).toEqual([]);
});
