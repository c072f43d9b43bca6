/**
 * The other way in: a plain stunnel + Squid server (the seed's cloud side, unchanged) added by
 * hand in the profile form, with the password going to a real GNOME Keyring and never into the
 * settings file. Then connect, move traffic, edit, and delete.
 */
import { test, expect } from '@playwright/test';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startOrigin, type Origin } from '../support/origin.js';
import { repoRoot } from '../support/processes.js';
import { startSeedCloud, type SeedCloud } from '../support/seed.js';
import { startConsoleProcess, type ConsoleProcess } from './support/console-process.js';

const run = promisify(execFile);
const screens = join(repoRoot, 'test-results', 'screens');
const seedUser = { name: 'test', password: 'qY8kd0Cf-seed' };

let origin: Origin;
let cloud: SeedCloud;
let consoleProcess: ConsoleProcess;

test.beforeAll(async () => {
  await mkdir(screens, { recursive: true });
  origin = await startOrigin();
  cloud = await startSeedCloud({ users: [seedUser], connectPorts: [origin.httpsPort], hostname: 'gw.example.test' });
  consoleProcess = await startConsoleProcess();
});

test.afterAll(async () => {
  await consoleProcess?.stop();
  await cloud?.stop();
  await origin?.stop();
});

test('a stunnel + Squid server added by hand keeps its password in the keychain and carries traffic', async ({ page }) => {
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(String(error)));
  await page.goto(consoleProcess.url);
  await page.getByRole('tab', { name: 'Profiles' }).click();
  await expect(page.getByText('No profiles yet.')).toBeVisible();
  await page.getByRole('button', { name: 'Add manually' }).click();
  await page.getByLabel('Profile name').fill('Seed cloud');
  await page.getByLabel('Server (host:port)').fill(`127.0.0.1:${cloud.port}`);
  await page.getByLabel('TLS name').fill('gw.example.test');
  await page.getByLabel('User name').fill(seedUser.name);
  await page.getByLabel('Password', { exact: true }).fill(seedUser.password);
  await expect(page.getByText(/The password is stored in .*Secret Service/)).toBeVisible();
  await page.getByRole('radio', { name: "Don't verify (insecure)" }).check();
  await expect(page.getByRole('note')).toContainText('Without verification');
  await page.screenshot({ path: join(screens, 'seed-01-manual-form.png') });
  await page.getByRole('button', { name: 'Save' }).click();
  const item = page.getByTestId('profile-item');
  await expect(item).toContainText('Seed cloud');
  await expect(item).toContainText('password in keychain');

  const settingsFile = await readFile(join(consoleProcess.configDir, 'config.json'), 'utf8');
  expect(settingsFile).toContain('Seed cloud');
  expect(settingsFile).not.toContain(seedUser.password);

  await page.getByRole('tab', { name: 'Home' }).click();
  await page.getByRole('switch', { name: 'Connect' }).click();
  await expect(page.getByTestId('state-words')).toHaveText('Connected to gw.example.test via HTTP/1.1');
  await expect(page.getByText('TLS verification is off')).toBeVisible();
  const proxy = (await page.getByTestId('proxy-address').textContent())?.trim() ?? '';
  for (let i = 0; i < 3; i++) {
    const { stdout } = await run('curl', ['-sS', '-k', '--max-time', '20', '-x', `http://${proxy}`, `https://127.0.0.1:${origin.httpsPort}/bytes/30000`], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'buffer' });
    expect(stdout.length).toBe(30000);
  }
  await expect(page.getByText('3 since connecting')).toBeVisible();
  await expect(page.getByTestId('bytes-total')).toContainText(/↓ (9\d|1\d\d)(\.\d)? KB/);
  await page.screenshot({ path: join(screens, 'seed-02-connected.png') });

  // The server goes away: the next request fails, and Home says why and when it tries again.
  await cloud.stop();
  await expect(run('curl', ['-sS', '-k', '--max-time', '20', '-x', `http://${proxy}`, `https://127.0.0.1:${origin.httpsPort}/bytes/10`], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })).rejects.toThrow();
  await expect(page.getByTestId('state-words')).toHaveText('Reconnecting to gw.example.test…');
  await expect(page.getByRole('alert')).toContainText('Why:');
  await expect(page.getByRole('alert')).toContainText(/Trying again in \d+ seconds?\./);
  await page.screenshot({ path: join(screens, 'seed-03-reconnecting.png') });

  // Disconnect, then edit without retyping the password, then delete.
  await page.getByRole('switch', { name: 'Connect' }).click();
  await expect(page.getByTestId('state-words')).toHaveText('Not connected');
  await page.getByRole('tab', { name: 'Profiles' }).click();
  await page.getByRole('button', { name: 'Edit Seed cloud' }).click();
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
  await expect(page.getByLabel('Password', { exact: true })).toHaveAttribute('placeholder', 'Stored; leave empty to keep it');
  await page.getByLabel('Profile name').fill('Seed (renamed)');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(item).toContainText('Seed (renamed)');
  await expect(item).toContainText('password in keychain');

  await page.getByRole('button', { name: 'Delete Seed (renamed)' }).click();
  await page.getByRole('button', { name: 'Delete Seed (renamed)' }).click();
  await expect(page.getByText('No profiles yet.')).toBeVisible();
  expect(failures).toEqual([]);
});
