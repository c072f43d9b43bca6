/**
 * Issue 18 in the UI, in Debian's Chromium against `bin/pinhole console` and a real gateway that
 * trusts a real OpenID provider: a sign-in link (no secret in it) pasted and connected for this
 * session shows the device code and the verification link on the Home page; once the code is
 * confirmed at the provider, Home says connected and a request goes through the tunnel with the
 * issued credential.
 */
import { test, expect } from '@playwright/test';
import { execFile } from 'node:child_process';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeLink } from '../../shared/link.js';
import { gatewayCommand, isAccessRecord, startGateway, type RunningGateway } from '../support/gateway.js';
import { SIGN_IN_CLIENT_ID, startIdp, type RunningIdp } from '../support/oidc-provider.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { repoRoot } from '../support/processes.js';
import { makeHeadlessHome, startHeadlessConsole, type ConsoleProcess, type HeadlessHome } from './support/console-process.js';

const run = promisify(execFile);
const screens = join(repoRoot, 'test-results', 'screens');
const ALICE = { id: 'alice', email: 'alice@example.com' };

let idp: RunningIdp;
let origin: Origin;
let gateway: RunningGateway;
let home: HeadlessHome;
let consoleProcess: ConsoleProcess | undefined;

test.use({ locale: 'en-US' });

test.beforeAll(async () => {
  await mkdir(screens, { recursive: true });
  idp = await startIdp([ALICE]);
  origin = await startOrigin();
  gateway = await startGateway({
    restrictTo: [`127.0.0.1:${origin.httpPort}`],
    prepare: async (dir) => {
      await gatewayCommand(['credential-keys', 'rotate', '--file', join(dir, 'credential-keys')]);
      await appendFile(join(dir, 'gateway.yaml'), ['identity:', '  issuers:', `    - issuer: ${idp.issuer}`, `      audience: ${SIGN_IN_CLIENT_ID}`, ''].join('\n'));
    },
  });
  home = await makeHeadlessHome();
});

test.afterAll(async () => {
  await consoleProcess?.stop();
  await gateway?.stop();
  await origin?.stop();
  await idp?.close();
  await home?.remove();
});

test('a sign-in link shows the device code and the verification link on Home, and connects once the code is confirmed', async ({ page }) => {
  const link = encodeLink({ name: 'Corp', endpoints: [`127.0.0.1:${gateway.port}`], serverName: gateway.hostname, pin: gateway.fingerprint, signIn: { issuer: idp.issuer, clientId: SIGN_IN_CLIENT_ID } });
  consoleProcess = await startHeadlessConsole(home);
  await page.goto(consoleProcess.url);
  await page.getByRole('tab', { name: 'Profiles' }).click();
  await page.getByLabel('Paste a Pinhole link').fill(link);
  const preview = page.getByTestId('link-preview');
  await preview.getByRole('button', { name: 'Connect for this session' }).click();

  await page.getByRole('tab', { name: 'Home' }).click();
  const signIn = page.getByTestId('sign-in');
  await expect(signIn).toContainText('Sign in with your organisation:');
  await expect(page.getByTestId('sign-in-link')).toHaveText(`${idp.issuer}/device`);
  await expect(page.getByTestId('sign-in-link')).toHaveAttribute('href', new RegExp(`^${idp.issuer.replace(/\./g, '\\.')}/device\\?user_code=`));
  const code = ((await page.getByTestId('sign-in-code').textContent()) ?? '').trim();
  expect(code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
  await page.screenshot({ path: join(screens, 'home-sign-in-code.png') });

  expect(await idp.approve(code, ALICE)).toBe(true);
  await expect(page.getByTestId('state-words')).toHaveText(new RegExp(`^Connected to ${gateway.hostname.replace(/\./g, '\\.')}( via .+)?$`), { timeout: 60_000 });
  await expect(signIn).toHaveCount(0);
  const proxy = ((await page.getByTestId('proxy-address').textContent()) ?? '').trim();
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', '-x', `http://${proxy}`, `http://127.0.0.1:${origin.httpPort}/hello`], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  expect(stdout).toBe('hello from the origin\n');
  // The access line is written as the relay ends, a moment after curl saw the end.
  const access = await gateway.program.waitForLog((r) => isAccessRecord(r) && r['user'] === 'alice@example.com', 15_000, 'the access line under the signed-in user');
  expect(access['user']).toBe('alice@example.com');
});
