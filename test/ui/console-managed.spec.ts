/**
 * A company's managed configuration in the UI (issue 25), in Debian's Chromium against
 * `bin/pinhole console` with PINHOLE_MANAGED_FILE: the managed profile shows as Managed with edit
 * and delete disabled and the administrator's support link; a change to the file reaches the open
 * page without a restart; a malformed file is named in one sentence while the last good profiles stay.
 */
import { test, expect } from '@playwright/test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeHeadlessHome, startHeadlessConsole, type ConsoleProcess, type HeadlessHome } from './support/console-process.js';

const PIN = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';
const managedYaml = (names: string[], extra = ''): string =>
  `profiles:\n${names.map((name) => `  - name: ${name}\n    gateway: 127.0.0.1:9\n    pin: ${PIN}\n    issuer: https://login.example.com/realms/acme\n${extra}`).join('')}lockProfiles: true\nlockConnectSwitch: true\nsupportUrl: https://help.example.com/vpn\n`;

let home: HeadlessHome;
let consoleProcess: ConsoleProcess | undefined;

test.use({ locale: 'en-US' });

test.beforeAll(async () => {
  home = await makeHeadlessHome();
});

test.afterAll(async () => {
  await consoleProcess?.stop();
  await home?.remove();
});

test('a managed profile is shown locked with the support link, and a change to the managed file is picked up without a restart', async ({ page }) => {
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(String(error)));
  const file = join(home.home, 'managed.yaml');
  await writeFile(file, managedYaml(['Acme cloud']));
  consoleProcess = await startHeadlessConsole(home, { extraEnv: { PINHOLE_MANAGED_FILE: file } });
  await page.goto(consoleProcess.url);
  await page.getByRole('tab', { name: 'Profiles' }).click();

  const acme = page.getByTestId('profile-item').filter({ hasText: 'Acme cloud' });
  await expect(acme).toHaveCount(1);
  await expect(acme.getByTestId('managed-badge')).toHaveText('Managed');
  await expect(acme.getByRole('button', { name: 'Delete Acme cloud' })).toBeDisabled();
  await expect(acme.getByRole('button', { name: 'Edit Acme cloud' })).toBeDisabled();
  const note = page.getByTestId('managed-note');
  await expect(note).toContainText('Your administrator manages this list');
  await expect(note.getByRole('link', { name: 'Get help' })).toHaveAttribute('href', 'https://help.example.com/vpn');

  // The administrator adds a profile: the open page shows it, no restart, no reload.
  await writeFile(file, managedYaml(['Acme cloud', 'Acme EU']));
  await expect(page.getByTestId('profile-item').filter({ hasText: 'Acme EU' })).toHaveCount(1, { timeout: 30_000 });

  // A malformed file: one sentence naming the file and the field; the last good profiles stay.
  await writeFile(file, managedYaml(['Acme cloud'], '    password: hunter2\n'));
  const problem = page.getByTestId('managed-problem');
  await expect(problem).toContainText(`The managed configuration ${file} is not valid: field profiles.0.password would hold a secret`, { timeout: 30_000 });
  await expect(page.getByTestId('profile-item')).toHaveCount(2);
  expect(failures).toEqual([]);
});
