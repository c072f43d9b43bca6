import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeLink, encodeLink } from '../../shared/link.js';
import { createLogger } from '../../shared/log.js';
import { CSRF_HEADER, type ControlReply, type DisableReply, type FleetReply, type UsersReply } from '../../shared/operator-api.js';
import { verifyPassword } from '../../node/htpasswd.js';
import { startAdmin } from '../admin.js';
import { DEFAULT_PENALTIES } from '../auth/penalties.js';
import { FleetControl, revokedFileControl, type ControlOutcome } from '../control/fleet-control.js';
import { GatewayMetrics, PINHOLE_VERSION, registrySource } from '../metrics.js';
import { readUsersFile } from '../users.js';
import { changeUsers, edits, isDisabled, type UsersFileIo } from '../users-file.js';
import { FleetWatch } from './fleet-watch.js';
import { OPERATOR_COOKIE, startOperatorConsole, type OperatorConsoleOptions, type RunningOperatorConsole } from './server.js';
import { makeSelfSignedCertificate } from '../../test/support/certs.js';
import { freePort } from '../../test/support/processes.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const TOKEN = 'the-one-time-token-for-tests';

interface Harness {
  console: RunningOperatorConsole;
  usersFile: string;
  fleet: FleetWatch;
  clock: { now: number };
  io: { full: boolean };
  close(): Promise<void>;
}

const start = async (extra: Partial<OperatorConsoleOptions> = {}, targets: Array<{ name: string; admin: string }> = []): Promise<Harness> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-opconsole-'));
  const staticDir = join(dir, 'ui');
  await mkdir(staticDir);
  await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>console</title>');
  const usersFile = join(dir, 'users.htpasswd');
  await changeUsers(usersFile, edits.add('alice', '$2b$10$' + 'a'.repeat(53)));
  const fleet = new FleetWatch({ targets, intervalMs: 60_000, timeoutMs: 1_000, logger });
  const clock = { now: Date.now() };
  const io = { full: false };
  const usersIo: UsersFileIo = {
    write: async (handle, text) => {
      if (io.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      await handle.writeFile(text);
    },
  };
  const running = await startOperatorConsole({
    listen: { host: '127.0.0.1', port: 0 },
    usersFile,
    fleet,
    link: async (user, password, transport) => encodeLink({ name: 'gw.example.test', endpoints: ['gw.example.test:443'], serverName: 'gw.example.test', user, secret: password, transport }),
    staticDir,
    logger,
    version: '9.9.9',
    penalties: { ...DEFAULT_PENALTIES, maxFailures: 3, delayAfter: 100 },
    tokenLifetimeMs: 60_000,
    token: TOKEN,
    now: () => clock.now,
    usersIo,
    ...extra,
  });
  return {
    console: running,
    usersFile,
    fleet,
    clock,
    io,
    close: async () => {
      await running.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

const signIn = async (h: Harness): Promise<{ cookie: string; csrf: string }> => {
  const reply = await fetch(`${h.console.origin}/?token=${TOKEN}`, { redirect: 'manual' });
  assert.equal(reply.status, 303);
  const cookie = (reply.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const session = (await (await fetch(`${h.console.origin}/api/session`, { headers: { cookie } })).json()) as { csrf: string };
  return { cookie, csrf: session.csrf };
};

const change = (h: Harness, auth: { cookie: string; csrf: string }, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${h.console.origin}${path}`, {
    method,
    headers: { cookie: auth.cookie, [CSRF_HEADER]: auth.csrf, origin: h.console.origin, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

test('the printed token signs in once, for an HttpOnly SameSite=Strict cookie; pages need that cookie', async () => {
  const h = await start();
  try {
    assert.equal((await fetch(`${h.console.origin}/`)).status, 403, 'no page without signing in');
    assert.equal((await fetch(`${h.console.origin}/api/users`)).status, 401);
    const reply = await fetch(`${h.console.origin}/?token=${TOKEN}`, { redirect: 'manual' });
    assert.equal(reply.status, 303);
    const setCookie = reply.headers.get('set-cookie') ?? '';
    assert.match(setCookie, new RegExp(`^${OPERATOR_COOKIE}=[\\w-]{40,}; HttpOnly; SameSite=Strict; Path=/$`), 'no Secure over plain HTTP (the browser would drop it)');
    const cookie = setCookie.split(';')[0] ?? '';
    const page = await fetch(`${h.console.origin}/`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const again = await fetch(`${h.console.origin}/?token=${TOKEN}`, { redirect: 'manual' });
    assert.equal(again.status, 403, 'the token is one-time');
    assert.match(await again.text(), /already used/);
  } finally {
    await h.close();
  }
});

test('a wrong token is penalised like a wrong proxy password: after maxFailures the source is refused with 429, even the right token', async () => {
  const h = await start();
  try {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${h.console.origin}/?token=wrong-${i}`, { redirect: 'manual' })).status, 403);
    const refused = await fetch(`${h.console.origin}/?token=${TOKEN}`, { redirect: 'manual' });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  } finally {
    await h.close();
  }
});

test('an expired token is refused with a sentence saying to start the console again', async () => {
  const h = await start();
  try {
    h.clock.now += 61_000;
    const reply = await fetch(`${h.console.origin}/?token=${TOKEN}`, { redirect: 'manual' });
    assert.equal(reply.status, 401);
    assert.match(await reply.text(), /expired; start the console again/);
  } finally {
    await h.close();
  }
});

test('a change without the CSRF token, from another origin, or not as JSON is refused; with them it is made', async () => {
  const h = await start();
  try {
    const auth = await signIn(h);
    assert.equal((await change(h, { ...auth, csrf: 'forged' }, 'POST', '/api/users', { name: 'bob' })).status, 403);
    assert.equal((await change(h, auth, 'POST', '/api/users', { name: 'bob' }, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await change(h, auth, 'POST', '/api/users', { name: 'bob' }, { 'content-type': 'text/plain' })).status, 415);
    assert.ok(!readUsersFile(h.usersFile).has('bob'));
    assert.equal((await change(h, auth, 'POST', '/api/users', { name: 'bob' })).status, 201);
    assert.ok(readUsersFile(h.usersFile).has('bob'));
  } finally {
    await h.close();
  }
});

test('users: add, issue a link whose secret is the password now in the file, disable, delete; bad names and unknown users are coded', async () => {
  const h = await start();
  try {
    const auth = await signIn(h);
    assert.equal((await change(h, auth, 'POST', '/api/users', { name: 'carol' })).status, 201);
    const dup = await change(h, auth, 'POST', '/api/users', { name: 'carol' });
    assert.equal(dup.status, 409);
    assert.equal(((await dup.json()) as { code: string }).code, 'PINHOLE_USER_EXISTS');
    assert.equal((await change(h, auth, 'POST', '/api/users', { name: 'has space' })).status, 400);
    const linkReply = await change(h, auth, 'POST', '/api/users/carol/link', { transport: 'h2' });
    assert.equal(linkReply.status, 200);
    const { link } = (await linkReply.json()) as { link: string };
    const payload = decodeLink(link);
    assert.equal(payload.user, 'carol');
    assert.ok(await verifyPassword(readUsersFile(h.usersFile).get('carol')!.hash, payload.secret!), "the link's secret is carol's password");
    assert.equal((await change(h, auth, 'POST', '/api/users/carol/disable', { disabled: true })).status, 200);
    const users = (await (await fetch(`${h.console.origin}/api/users`, { headers: { cookie: auth.cookie } })).json()) as UsersReply;
    assert.deepEqual(users.users.map((u) => [u.name, u.disabled]), [['alice', false], ['carol', true]]);
    assert.equal(users.sessionsKnown, false);
    assert.equal(await verifyPassword(readUsersFile(h.usersFile).get('carol')!.hash, payload.secret!), false, 'a disabled user signs in with nothing');
    assert.equal((await change(h, auth, 'DELETE', '/api/users/carol', {})).status, 200);
    const gone = await change(h, auth, 'POST', '/api/users/carol/link', {});
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: string }).code, 'PINHOLE_USER_UNKNOWN');
  } finally {
    await h.close();
  }
});

test('a full disk answers 507 PINHOLE_DISK_FULL and the users file is as it was; a hand-broken file is reported, not overwritten', async () => {
  const h = await start();
  try {
    const auth = await signIn(h);
    const before = await readFile(h.usersFile, 'utf8');
    h.io.full = true;
    const reply = await change(h, auth, 'POST', '/api/users', { name: 'dave' });
    assert.equal(reply.status, 507);
    const body = (await reply.json()) as { code: string; message: string };
    assert.equal(body.code, 'PINHOLE_DISK_FULL');
    assert.match(body.message, /is full; the change was not saved/);
    assert.equal(await readFile(h.usersFile, 'utf8'), before);
    h.io.full = false;
    await writeFile(h.usersFile, `${before}this line is not htpasswd\n`);
    const list = await fetch(`${h.console.origin}/api/users`, { headers: { cookie: auth.cookie } });
    assert.equal(((await list.json()) as { code: string }).code, 'PINHOLE_FILE_INVALID');
    assert.equal((await change(h, auth, 'POST', '/api/users', { name: 'erin' })).status, 500);
    assert.match(await readFile(h.usersFile, 'utf8'), /this line is not htpasswd/, 'the hand edit is left for its author to fix');
  } finally {
    await h.close();
  }
});

test('behind TLS the cookie is Secure', async () => {
  const cert = await makeSelfSignedCertificate({ altNames: ['127.0.0.1'] });
  const h = await start({ tls: { cert: Buffer.from(cert.cert), key: Buffer.from(cert.key) } });
  try {
    assert.match(h.console.origin, /^https:/);
    const setCookie = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${h.console.origin}/?token=${TOKEN}`, { ca: cert.cert }, (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie'] ?? ''));
      });
      req.on('error', reject);
      req.end();
    });
    assert.match(setCookie, /; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
  } finally {
    await h.close();
    await rm(cert.dir, { recursive: true, force: true });
  }
});

test('the fleet: a gateway that answers shows its version and readiness; one that does not is shown as such and the page still answers', async () => {
  const metrics = new GatewayMetrics({ defaultMetrics: true });
  const admin = await startAdmin({ listen: { host: '127.0.0.1', port: 0 }, metrics: registrySource(metrics.registry), ready: () => true, logger });
  const deadPort = await freePort();
  const h = await start({}, [
    { name: 'gw1', admin: `http://127.0.0.1:${admin.address.port}` },
    { name: 'gw2', admin: `http://127.0.0.1:${deadPort}` },
  ]);
  try {
    await h.fleet.poll();
    const auth = await signIn(h);
    const fleet = (await (await fetch(`${h.console.origin}/api/fleet`, { headers: { cookie: auth.cookie } })).json()) as FleetReply;
    const [gw1, gw2] = fleet.gateways;
    assert.equal(gw1?.answering, true);
    assert.equal(gw1?.ready, true);
    assert.equal(gw1?.version, PINHOLE_VERSION);
    assert.equal(gw1?.history.length, 1);
    assert.equal(gw1?.sessions, 'no', 'this admin listener has no /sessions');
    assert.equal(gw2?.answering, false);
    assert.match(gw2?.problem ?? '', /refused the connection/);
    const sessions = (await (await fetch(`${h.console.origin}/api/sessions`, { headers: { cookie: auth.cookie } })).json()) as { missing: unknown[] };
    assert.deepEqual(sessions.missing, [
      { gateway: 'gw1', why: 'unsupported' },
      { gateway: 'gw2', why: 'down' },
    ]);
  } finally {
    await h.close();
    await admin.close();
  }
});

test("users and sessions read each gateway's GET /sessions: per-user tunnels, bytes and last seen summed over the fleet", async () => {
  const { createServer } = await import('node:http');
  const lastSeen = Date.parse('2026-12-01T10:00:00Z');
  const lists = [
    { sessions: [{ id: 's1', user: 'alice', client: '192.0.2.1', transport: 'h2', tunnels: 2, bytesUp: 100, bytesDown: 900, since: lastSeen - 1_000, lastSeen }] },
    [{ id: 's2', user: 'alice', tunnels: 1, bytesUp: 5, bytesDown: 5, lastSeen: new Date(lastSeen - 60_000).toISOString() }],
  ];
  const metricsText = await new GatewayMetrics({ defaultMetrics: false }).registry.metrics();
  const servers = lists.map((list) =>
    createServer((req, res) => {
      if (req.url === '/sessions') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
      if (req.url === '/readyz') return void res.writeHead(200).end('ready\n');
      res.writeHead(200).end(metricsText);
    }),
  );
  for (const s of servers) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const h = await start({}, servers.map((s, i) => ({ name: `gw${i + 1}`, admin: `http://127.0.0.1:${(s.address() as import('node:net').AddressInfo).port}` })));
  try {
    await h.fleet.poll();
    const auth = await signIn(h);
    const users = (await (await fetch(`${h.console.origin}/api/users`, { headers: { cookie: auth.cookie } })).json()) as UsersReply;
    assert.equal(users.sessionsKnown, true);
    assert.deepEqual(users.users.find((u) => u.name === 'alice'), { name: 'alice', disabled: false, tunnels: 3, bytes: 1010, sessions: 2, lastSeen });
    const sessions = (await (await fetch(`${h.console.origin}/api/sessions`, { headers: { cookie: auth.cookie } })).json()) as { sessions: Array<{ id: string; gateway: string }>; missing: unknown[] };
    assert.deepEqual(sessions.sessions.map((s) => [s.gateway, s.id]), [['gw1', 's1'], ['gw2', 's2']]);
    assert.deepEqual(sessions.missing, []);
  } finally {
    await h.close();
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
  }
});

/** A fleet control that records what the console asked of it, answering `fleet` (the real one is in control/fleet-control.ts). */
const recordingControl = (fleet: ControlOutcome['fleet']) => {
  const calls: string[] = [];
  const answer = (call: string, extra: Partial<ControlOutcome> = {}): Promise<ControlOutcome> => {
    calls.push(call);
    return Promise.resolve({ fleet, ...(fleet === 'unreachable' ? { reason: 'Redis at 127.0.0.1:1: refused' } : {}), ...extra });
  };
  return {
    calls,
    control: {
      revokeUser: (name: string) => answer(`revoke ${name}`, { until: '2026-12-09T00:00:00.000Z' }),
      restoreUser: (name: string) => answer(`restore ${name}`),
      disconnectSession: (id: string) => answer(`disconnect ${id}`, { foundHere: false }),
    },
  };
};

test('disconnect, revoke, restore and disable/enable go to the fleet control and answer its outcome; without the CSRF token nothing is sent', async () => {
  const { calls, control } = recordingControl('sent');
  const h = await start({ control });
  try {
    const auth = await signIn(h);
    for (const [path, body] of [['/api/sessions/gw1/ab12cd34.7/disconnect', {}], ['/api/users/alice/revoke', {}], ['/api/users/alice/disable', { disabled: true }]] as const) {
      const forged = await change(h, { ...auth, csrf: 'forged' }, 'POST', path, body);
      assert.equal(forged.status, 403, `${path} without the CSRF token`);
      assert.equal(((await forged.json()) as { code: string }).code, 'PINHOLE_CONSOLE_FORBIDDEN');
      const noCsrf = await fetch(`${h.console.origin}${path}`, { method: 'POST', headers: { cookie: auth.cookie, origin: h.console.origin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(noCsrf.status, 403, `${path} with no CSRF header at all`);
      assert.equal((await change(h, auth, 'POST', path, body, { origin: 'http://evil.example' })).status, 403, `${path} from another origin`);
    }
    assert.deepEqual(calls, [], 'a refused change reaches no gateway');
    assert.equal(isDisabled(readUsersFile(h.usersFile).get('alice')!), false);

    const disconnected = await change(h, auth, 'POST', '/api/sessions/gw1/ab12cd34.7/disconnect', {});
    assert.equal(disconnected.status, 200);
    assert.deepEqual(await disconnected.json(), { fleet: 'sent' });
    assert.deepEqual(await (await change(h, auth, 'POST', '/api/users/alice/revoke', {})).json(), { fleet: 'sent', until: '2026-12-09T00:00:00.000Z' });
    assert.deepEqual(await (await change(h, auth, 'POST', '/api/users/alice/restore', {})).json(), { fleet: 'sent' });
    const disabled = (await (await change(h, auth, 'POST', '/api/users/alice/disable', { disabled: true })).json()) as DisableReply;
    assert.deepEqual(disabled, { name: 'alice', disabled: true, control: { fleet: 'sent', until: '2026-12-09T00:00:00.000Z' } });
    const users = (await (await fetch(`${h.console.origin}/api/users`, { headers: { cookie: auth.cookie } })).json()) as UsersReply;
    assert.equal(users.users.find((u) => u.name === 'alice')?.disabled, true, 'the users file changed too');
    await change(h, auth, 'POST', '/api/users/alice/disable', { disabled: false });
    assert.deepEqual(calls, ['disconnect ab12cd34.7', 'revoke alice', 'restore alice', 'revoke alice', 'restore alice']);

    assert.equal((await change(h, auth, 'POST', '/api/sessions/gw1/a%20b/disconnect', {})).status, 400, 'not a session id a gateway gives');
    assert.equal((await change(h, auth, 'POST', '/api/users/has%20space/revoke', {})).status, 400);
    assert.equal(calls.length, 5);
  } finally {
    await h.close();
  }
});

test('without fleet control the console says nothing was sent (no-state), and a Redis that does not answer is reported as unreachable', async () => {
  const bare = await start();
  try {
    const auth = await signIn(bare);
    assert.deepEqual(await (await change(bare, auth, 'POST', '/api/sessions/gw1/s1/disconnect', {})).json(), { fleet: 'no-state' });
    assert.deepEqual(await (await change(bare, auth, 'POST', '/api/users/alice/revoke', {})).json(), { fleet: 'no-state' });
  } finally {
    await bare.close();
  }
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-opconsole-control-'));
  const deadPort = await freePort();
  const control = new FleetControl({ state: `redis://127.0.0.1:${deadPort}`, local: revokedFileControl(join(dir, 'revoked')), lifetimeSeconds: 3_600, timeoutMs: 1_000 });
  const h = await start({ control });
  try {
    const auth = await signIn(h);
    const reply = (await (await change(h, auth, 'POST', '/api/users/alice/revoke', {})).json()) as ControlReply;
    assert.equal(reply.fleet, 'unreachable');
    assert.match(reply.reason ?? '', new RegExp(`127\\.0\\.0\\.1:${deadPort}`));
    assert.match(await readFile(join(dir, 'revoked'), 'utf8'), /alice/, 'the revocation still holds for the gateways reading this directory');
    const gone = (await (await change(h, auth, 'POST', '/api/sessions/gw1/s1/disconnect', {})).json()) as ControlReply;
    assert.equal(gone.fleet, 'unreachable');
  } finally {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});
