/**
 * The operator's story, in Debian's Chromium against `bin/pinhole-gateway console` and a real fleet:
 * two `pinhole-gateway run` sharing one directory and a real redis-server (--state), each with its
 * admin listener. Sign in with the printed token (a wrong one and a used one are refused), add a
 * user, issue a link (QR code and copy button), connect `bin/pinhole connect` with it and send
 * traffic, watch the fleet page count the bytes, see the session and its bytes on the sessions page,
 * disconnect it (a tunnel held open through the client ends), disable the user (through the fleet's
 * Redis: new tunnels refused on both gateways at once), edit the users file by hand while the page is open, stop a
 * gateway (shown as not answering, the page still works). Screenshots at 1280x800 go to
 * test-results/screens/operator-*.png (the README's copies in docs/screenshots/ are taken from there
 * by hand, so a test run never rewrites a tracked file).
 */
import { test, expect, type Page } from '@playwright/test';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeLink } from '../../shared/link.js';
import { startClient, type RunningClient } from '../support/client.js';
import { startSilentOrigin, type SilentOrigin } from '../support/fin-origin.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { Program, freePort, gatewayBin, repoRoot } from '../support/processes.js';
import { openTunnel, requestThroughProxy } from '../support/proxy-requests.js';
import { startRedis, type RunningRedis } from '../support/redis.js';
import { closed, tunnelTo } from '../support/tunnel-ends.js';

const screens = join(repoRoot, 'test-results', 'screens');
const USERS_RELOADED = 'The users file was reloaded.';

let origin: Origin;
let silent: SilentOrigin;
let redis: RunningRedis;
let gw1: RunningGateway;
let gw2: RunningGateway;
let admin1: number;
let admin2: number;
let consoleProgram: Program;
let consoleUrl: string;
let client: RunningClient | undefined;

test.use({ locale: 'en-US', viewport: { width: 1280, height: 800 } });

const shot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: join(screens, `${name}.png`) });

test.beforeAll(async () => {
  await mkdir(screens, { recursive: true });
  origin = await startOrigin();
  silent = await startSilentOrigin();
  redis = await startRedis();
  [admin1, admin2] = [await freePort(), await freePort()];
  const runArgs = (admin: number): string[] => ['--admin', `127.0.0.1:${admin}`, '--state', redis.url];
  const restrictTo = [`127.0.0.1:${origin.httpPort}`, `127.0.0.1:${silent.port}`];
  gw1 = await startGateway({ restrictTo, runArgs: runArgs(admin1) });
  gw2 = await startGateway({ sameDirAs: gw1, restrictTo, runArgs: runArgs(admin2) });
  consoleProgram = new Program(gatewayBin, {
    name: 'pinhole-gateway console',
    args: [
      'console', '--dir', gw1.dir, '--listen', '127.0.0.1:0', '--poll-seconds', '1',
      '--gateway', `gw1=127.0.0.1:${admin1}`, '--gateway', `gw2=127.0.0.1:${admin2}`,
      '--endpoint', `127.0.0.1:${gw1.port}`, '--endpoint', `127.0.0.1:${gw2.port}`,
      '--state', redis.url,
    ],
  });
  consoleUrl = (await consoleProgram.waitForLine((l) => l.stream === 'stdout' && /^http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(l.text), 120_000, 'the console URL')).text.trim();
});

test.afterAll(async () => {
  await client?.stop();
  await consoleProgram?.stop('SIGTERM', 15_000);
  await gw2?.stop();
  await gw1?.stop();
  await redis?.stop();
  await silent?.stop();
  await origin?.stop();
});

/** A CONNECT straight to a gateway with the user's password: the status it answers. */
const tunnelStatus = async (gateway: RunningGateway, user: string, password: string): Promise<number> => {
  const reply = await openTunnel({
    proxy: { port: gateway.port, tls: { servername: gateway.hostname, rejectUnauthorized: false }, auth: { user, password } },
    target: `127.0.0.1:${origin.httpPort}`,
  });
  reply.socket.destroy();
  return reply.status;
};

/** Resolves when `gateway` has reloaded the users file once more than `before` times. */
const reloaded = (gateway: RunningGateway, before: number): Promise<unknown> => gateway.program.waitForLogs((r) => r.msg === USERS_RELOADED, before + 1, 20_000, 'the users file reloaded');
/** Resolves when `gateway` holds a revocation of erin (from the fleet's Redis or the shared `revoked` file). */
const revokedOn = (gateway: RunningGateway): Promise<unknown> =>
  gateway.program.waitForLogs((r) => r.msg === 'A revocation is in force: its tunnels end and new ones are refused.' && r['value'] === 'erin', 1, 20_000, "erin's revocation in force");
const reloads = (gateway: RunningGateway): number => gateway.program.records.filter((r) => r.msg === USERS_RELOADED).length;

test('an operator signs in, adds a user, issues a link, sees the fleet carry its traffic, disables it on both gateways, and survives a hand edit and a gateway going down', async ({ page, browser }) => {
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(String(error)));

  // A wrong token: refused, and the page says what to do.
  const wrong = await page.goto(consoleUrl.replace(/token=.*/, 'token=not-the-token'));
  expect(wrong?.status()).toBe(403);
  await expect(page.locator('body')).toContainText('This console link is wrong');

  // The printed token signs in once.
  await page.goto(consoleUrl);
  await expect(page.getByRole('heading', { name: 'Users and links' })).toBeVisible();
  await expect(page.locator('tr[data-user="alice"]')).toBeVisible();
  const other = await browser.newPage();
  const reused = await other.goto(consoleUrl);
  expect(reused?.status()).toBe(403);
  await expect(other.locator('body')).toContainText('already used');
  await other.close();

  // Add a user; issue a link: QR code, copy button, the link once.
  await page.getByLabel("New user's name").fill('erin');
  const [added1, added2] = [reloads(gw1), reloads(gw2)];
  await page.getByRole('button', { name: 'Add user' }).click();
  const erin = page.locator('tr[data-user="erin"]');
  await expect(erin).toContainText('Enabled');
  await Promise.all([reloaded(gw1, added1), reloaded(gw2, added2)]);
  const [issued1, issued2] = [reloads(gw1), reloads(gw2)];
  await erin.getByRole('button', { name: 'Issue link' }).click();
  const link = (await page.getByTestId('issued-link').textContent())?.trim() ?? '';
  expect(link.startsWith('pinhole://')).toBe(true);
  await expect(page.getByRole('img', { name: 'QR code of the provisioning link' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Copy' })).toBeVisible();
  await expect(page.getByText('shown only once')).toBeVisible();
  await shot(page, 'operator-users');
  const { secret } = decodeLink(link);
  expect(secret).toBeTruthy();

  // `pinhole connect` with the link; traffic through it reaches the origin through the fleet.
  // The link set erin's new password: both gateways have it once they reloaded the file.
  await Promise.all([reloaded(gw1, issued1), reloaded(gw2, issued2)]);
  client = await startClient({ link, name: 'pinhole connect (erin)' });
  const reply = await requestThroughProxy({ proxy: { port: client.port }, url: `http://127.0.0.1:${origin.httpPort}/hello` });
  expect(reply.status).toBe(200);

  // The fleet page: both gateways ready, their version, and the bytes the tunnel carried.
  await page.getByRole('tab', { name: 'The fleet' }).click();
  const card1 = page.locator('[data-gateway="gw1"]');
  const card2 = page.locator('[data-gateway="gw2"]');
  await expect(card1.getByTestId('gateway-state')).toHaveText('Ready');
  await expect(card2.getByTestId('gateway-state')).toHaveText('Ready');
  await expect(card1).toContainText('Version 0.1.0');
  // Counted by the gateways when the tunnel ended (pinhole_tunnel_bytes_total): more than nothing, on one of them.
  await expect(page.getByTestId('bytes-total').filter({ hasText: /^[1-9][\d.]* (B|KiB|MiB) carried/ }).first()).toBeVisible();
  await shot(page, 'operator-fleet');

  // Sessions: erin's session with its tunnel and bytes, from the gateways' GET /sessions. A tunnel held
  // open through the client (to an origin that never speaks nor closes) is counted.
  const held = await tunnelTo({ port: client.port }, silent);
  held.write(Buffer.alloc(64 * 1024, 'x'));
  await page.getByRole('tab', { name: 'Sessions' }).click();
  await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();
  const session = page.locator('tr[data-session-user="erin"]').filter({ has: page.getByTestId('session-tunnels').filter({ hasText: /^[1-9]/ }) }).first();
  await expect(session.getByTestId('session-bytes')).toHaveText(/^[1-9][\d.]* (B|KiB|MiB)$/);
  await shot(page, 'operator-sessions');

  // Disconnect, confirmed: the fleet is told through Redis and the held tunnel gets its close.
  let asked = '';
  page.once('dialog', (dialog) => {
    asked = dialog.message();
    void dialog.accept();
  });
  const heldClosed = closed(held);
  await session.getByRole('button', { name: 'Disconnect' }).click();
  await expect(page.getByTestId('control-outcome')).toHaveText("The fleet was told to end erin's session.");
  expect(asked).toContain("Disconnect erin's session");
  await heldClosed;

  // Disable erin: the users file, and the fleet told through Redis, so both gateways refuse new
  // tunnels at once as revoked (403; the revocation is checked before the password).
  await page.getByRole('tab', { name: 'Users and links' }).click();
  expect(await tunnelStatus(gw1, 'erin', secret!)).toBe(200);
  const [before1, before2] = [reloads(gw1), reloads(gw2)];
  await erin.getByRole('button', { name: 'Disable' }).click();
  await expect(erin).toContainText('Disabled');
  await expect(page.getByTestId('control-notice')).toHaveCount(0);
  await Promise.all([revokedOn(gw1), revokedOn(gw2)]);
  expect(await tunnelStatus(gw1, 'erin', secret!)).toBe(403);
  expect(await tunnelStatus(gw2, 'erin', secret!)).toBe(403);
  // Both also reloaded the users file (erin disabled there too): still refused.
  await Promise.all([reloaded(gw1, before1), reloaded(gw2, before2)]);
  expect(await tunnelStatus(gw2, 'erin', secret!)).toBe(403);

  // The users file edited by hand while the page is open: a new line shows up; a broken one is reported.
  const usersFile = join(gw1.dir, 'users.htpasswd');
  const original = await readFile(usersFile, 'utf8');
  await appendFile(usersFile, `frank:$2b$10$${'f'.repeat(53)}\n`);
  await expect(page.locator('tr[data-user="frank"]')).toBeVisible();
  await writeFile(usersFile, `${original}this is not an htpasswd line\n`);
  await expect(page.getByRole('alert')).toContainText('not NAME:HASH');
  await writeFile(usersFile, original);
  await expect(page.getByRole('alert')).toHaveCount(0);

  // A gateway goes down: shown as not answering; the other and the page go on.
  await gw2.stop();
  await page.getByRole('tab', { name: 'The fleet' }).click();
  await expect(card2.getByTestId('gateway-state')).toHaveText('Not answering');
  await expect(card2).toContainText('does not answer on its admin address');
  await expect(card1.getByTestId('gateway-state')).toHaveText('Ready');
  await shot(page, 'operator-fleet-gateway-down');
  await page.getByRole('tab', { name: 'Sessions' }).click();
  await expect(page.getByText('gw2 does not answer')).toBeVisible();
  expect(failures).toEqual([]);
});
