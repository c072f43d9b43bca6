/**
 * "Check my connection" and "Export diagnostics" in the console, in Debian's Chromium (issue 25):
 * three stored profiles for one real gateway (the right one, one whose address answers with a
 * TLS-inspecting firewall's certificate, one with a wrong password); Home runs the same path check
 * as `pinhole doctor` on the profile chosen, with the same verdicts; Settings exports the
 * diagnostics archive, which holds no password.
 */
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeLink, encodeLink } from '../../shared/link.js';
import { DEFAULT_USER, startGateway, type RunningGateway } from '../support/gateway.js';
import { INSPECTION_CA_NAME, startInspectingTls } from '../support/inspecting-tls.js';
import { Peers, freePort, pinholeBin, repoRoot, runCommandOk } from '../support/processes.js';
import { makeHeadlessHome, startHeadlessConsole, type ConsoleProcess, type HeadlessHome } from './support/console-process.js';

const screens = join(repoRoot, 'test-results', 'screens');
const PASSPHRASE = 'doctor console passphrase 4';
const WRONG_PASSWORD = 'not-the-password-c3f9a1';
const peers = new Peers();
let gateway: RunningGateway;
let home: HeadlessHome;
let consoleProcess: ConsoleProcess;
let secretsFile: string;

test.beforeAll(async () => {
  await mkdir(screens, { recursive: true });
  // One user per profile: a link for a server and user already stored updates that profile.
  gateway = await startGateway({ users: [DEFAULT_USER, { name: 'bob', password: 'bob password 5' }, { name: 'carol', password: 'carol password 6' }] });
  const inspectPort = await freePort();
  await startInspectingTls(peers, { address: '127.0.0.1', port: inspectPort, serverName: gateway.hostname });
  home = await makeHeadlessHome();
  secretsFile = join(home.configDir, 'secrets.enc.json');
  const [work, bob, carol] = gateway.users;
  const link = await gateway.provision({ user: work });
  const bobLink = decodeLink(await gateway.provision({ user: bob }));
  const carolLink = decodeLink(await gateway.provision({ user: carol }));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home.home, PINHOLE_CONFIG_DIR: home.configDir, PINHOLE_SECRETS_PASSPHRASE: PASSPHRASE };
  for (const [name, text] of [
    ['Work', link],
    ['Inspected', encodeLink({ ...bobLink, endpoints: [`127.0.0.1:${inspectPort}`] })],
    ['Wrong password', encodeLink({ ...carolLink, secret: WRONG_PASSWORD })],
  ] as const) {
    await runCommandOk(pinholeBin, { name: 'pinhole profile import', args: ['profile', 'import', text, '--name', name, '--secrets-file', secretsFile], env });
  }
  consoleProcess = await startHeadlessConsole(home, { args: ['--secrets-file', secretsFile], extraEnv: { PINHOLE_SECRETS_PASSPHRASE: PASSPHRASE } });
});

test.afterAll(async () => {
  await consoleProcess?.stop();
  await peers.close();
  await gateway?.stop();
  await home?.remove();
});

test('Check my connection shows each hop\'s verdict for the chosen profile, and Export diagnostics saves an archive without a password', async ({ page }) => {
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(String(error)));
  await page.goto(consoleProcess.url);
  const check = page.getByTestId('connection-check');
  const choose = (name: string) => page.getByRole('combobox').selectOption({ label: name });

  // The right profile: every hop that applies passes, and the firewall line names the gateway.
  await choose('Work');
  await check.getByRole('button', { name: 'Check my connection' }).click();
  await expect(check.getByTestId('check-summary')).toHaveText('Every hop passed.');
  for (const hop of ['resolve', 'tcp', 'tls', 'credential']) await expect(check.getByTestId(`hop-${hop}`)).toHaveAttribute('data-status', 'pass');
  await expect(check.getByTestId('hop-tls')).toContainText('matches the pin in the link');
  await expect(check.getByTestId('check-firewall')).toContainText(`allow outgoing TCP to ${gateway.hostname} port ${gateway.port}`);
  await page.screenshot({ path: join(screens, 'doctor-01-healthy.png') });

  // A firewall inspecting TLS: the check stops at TLS, naming the issuer, and says what to ask for.
  await choose('Inspected');
  await check.getByRole('button', { name: 'Check my connection' }).click();
  await expect(check.getByTestId('hop-tls')).toHaveAttribute('data-status', 'fail');
  await expect(check.getByTestId('hop-tls')).toContainText(`issued by "${INSPECTION_CA_NAME}, Corp Firewall"`);
  await expect(check.getByTestId('hop-tls')).toContainText('looks like TLS inspection');
  await expect(check.getByTestId('hop-tls')).toContainText('What to do:');
  await expect(check.getByTestId('hop-credential')).toHaveAttribute('data-status', 'skip');
  await expect(check.getByTestId('check-summary')).toHaveText("Stopped at: TLS handshake and the gateway's certificate");
  await page.screenshot({ path: join(screens, 'doctor-02-inspected.png') });

  // A wrong password: the gateway's code, and the advice to ask for a new link.
  await choose('Wrong password');
  await check.getByRole('button', { name: 'Check my connection' }).click();
  await expect(check.getByTestId('hop-credential')).toHaveAttribute('data-status', 'fail');
  await expect(check.getByTestId('hop-credential')).toContainText('PINHOLE_AUTH_REJECTED');
  await expect(check.getByTestId('hop-credential')).toContainText('ask your administrator for a new link');

  // The same verdicts in Spanish around the engine's sentences.
  await page.getByRole('tab', { name: 'Settings' }).click();
  await page.getByLabel('Language').selectOption('es');
  await page.getByRole('tab', { name: 'Inicio' }).click();
  await choose('Wrong password');
  await check.getByRole('button', { name: 'Comprobar mi conexión' }).click();
  await expect(check.getByTestId('hop-credential')).toContainText('La credencial es aceptada');
  await expect(check.getByTestId('check-summary')).toHaveText('Se detuvo en: La credencial es aceptada');
  await page.getByRole('tab', { name: 'Ajustes' }).click();
  await page.getByLabel('Idioma').selectOption('en');

  // Export diagnostics: one .tar.gz the system's tar reads, holding no password of any profile.
  await page.getByRole('tab', { name: 'Settings' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export diagnostics' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^pinhole-diagnostics-\d{8}-\d{6}\.tar\.gz$/);
  const saved = join(home.home, download.suggestedFilename());
  await download.saveAs(saved);
  await expect(page.getByTestId('diagnostics-exported')).toContainText(download.suggestedFilename());
  const listing = execFileSync('tar', ['-tzf', saved], { encoding: 'utf8' });
  for (const name of ['doctor.json', 'versions.json', 'system.json', 'logs.jsonl', 'profiles.json', 'settings.json']) expect(listing).toContain(`/${name}`);
  const text = gunzipSync(await readFile(saved)).toString('latin1');
  for (const secret of [...gateway.users.map((u) => u.password), WRONG_PASSWORD, PASSPHRASE, ...gateway.users.map((u) => encodeURIComponent(u.password))]) expect(text).not.toContain(secret);
  expect(text).toContain('PINHOLE_AUTH_REJECTED');
  expect(text).toContain('"name": "Inspected"');
  expect(failures).toEqual([]);
});
