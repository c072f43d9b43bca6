import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { encodeLink } from '../../shared/link.js';
import { createLogger } from '../../shared/log.js';
import { EngineHost } from './host.js';
import { MemoryProfiles, MemorySecrets, ScriptedEngine } from '../../test/support/memory-deps.js';
import { POLICY_VIOLATION, startConsole, type RunningConsole } from './server.js';

const PIN = 'AB'.repeat(32);
const LINK = encodeLink({ name: 'Work', endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', pin: PIN, user: 'alice', secret: 's3cret-link-password' });

interface Fixture {
  console: RunningConsole;
  engine: ScriptedEngine;
  profiles: MemoryProfiles;
  secrets: MemorySecrets;
}

const start = async (t: TestContext): Promise<Fixture> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-console-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>Pinhole</title>');
  await writeFile(join(dir, 'assets', 'app.js'), 'export {};');
  const engine = new ScriptedEngine();
  const profiles = new MemoryProfiles();
  const secrets = new MemorySecrets();
  const host = new EngineHost({ engine, profiles, secrets, version: '9.9.9', platform: 'linux', shellExportLine: (h, p) => `export https_proxy=http://${h}:${p}` });
  const logger = createLogger({ name: 'console-test', level: 'silent' });
  const running = await startConsole({ handlers: host.handlers, onEvent: (l) => host.onEvent(l), staticDir: dir, logger, listen: '127.0.0.1:0' });
  t.after(async () => {
    await running.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { console: running, engine, profiles, secrets };
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const get = (url: string, headers: Record<string, string> = {}): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });

/** Exchanges the one-time token for the session cookie, as the browser does. */
const login = async (c: RunningConsole): Promise<string> => {
  const reply = await get(c.url);
  assert.equal(reply.status, 303);
  const cookie = String(reply.headers['set-cookie']).split(';')[0] ?? '';
  assert.match(cookie, /^pinhole_console=/);
  return cookie;
};

const openSocket = (c: RunningConsole, headers: Record<string, string>): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${c.port}/ws`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });

const closeOf = (ws: WebSocket): Promise<{ code: number; reason: string }> =>
  new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

let nextId = 1;
const call = (ws: WebSocket, name: string, input: unknown): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }> =>
  new Promise((resolve) => {
    const id = nextId++;
    const onMessage = (data: Buffer): void => {
      const frame = JSON.parse(data.toString()) as { t: string; id: number };
      if (frame.t === 'reply' && (frame.id === id || frame.id === 0)) {
        ws.off('message', onMessage);
        resolve(frame as never);
      }
    };
    ws.on('message', onMessage);
    ws.send(typeof input === 'string' ? input : JSON.stringify({ t: 'call', id, name, input }));
  });

test('the console link works once: the token becomes a session cookie and the page has a strict CSP', async (t) => {
  const { console: c } = await start(t);
  assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{20,}$/);
  assert.equal((await get(`${c.origin}/`)).status, 403, 'no page without the token');
  const cookie = await login(c);
  const page = await get(`${c.origin}/`, { cookie });
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>Pinhole<\/title>/);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const reused = await get(c.url);
  assert.equal(reused.status, 403, 'a used token opens nothing for a browser without the session');
  assert.match(reused.body, /wrong or was already used/);
  assert.equal((await get(`${c.origin}/?token=wrong`)).status, 403);
});

test('a page reached through another host name (DNS rebinding) is refused', async (t) => {
  const { console: c } = await start(t);
  const reply = await get(c.url, { host: `evil.example:${c.port}` });
  assert.equal(reply.status, 421);
});

test('a WebSocket without the console session is closed with a policy violation and a reason', async (t) => {
  const { console: c, profiles } = await start(t);
  await login(c);
  const ws = await openSocket(c, { origin: c.origin, cookie: 'pinhole_console=forged' });
  const closed = await closeOf(ws);
  assert.equal(closed.code, POLICY_VIOLATION);
  assert.match(closed.reason, /no valid console token/);
  assert.equal(profiles.list().length, 0);
});

test('a WebSocket from a foreign Origin is closed even with a valid session', async (t) => {
  const { console: c } = await start(t);
  const cookie = await login(c);
  for (const origin of ['http://evil.example', `http://127.0.0.1:${c.port + 1}`, 'null']) {
    const ws = await openSocket(c, { origin, cookie });
    const closed = await closeOf(ws);
    assert.equal(closed.code, POLICY_VIOLATION, origin);
    assert.match(closed.reason, /foreign Origin/);
  }
});

test('over the WebSocket a pasted link is previewed, saved with its password in the keychain only, and connected', async (t) => {
  const { console: c, engine, profiles, secrets } = await start(t);
  const cookie = await login(c);
  const ws = await openSocket(c, { origin: c.origin, cookie });
  t.after(() => ws.close());
  const events: string[] = [];
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { t: string; name?: string };
    if (frame.t === 'event' && frame.name) events.push(frame.name);
  });
  const preview = await call(ws, 'previewLink', { link: ` ${LINK} ` });
  assert.equal(preview.ok, true);
  assert.deepEqual({ ...(preview.result as object), endpoints: undefined }, { name: 'Work', endpoints: undefined, serverName: 'gw.example.com', user: 'alice', pin: PIN, transport: 'h2', domains: [] });
  assert.doesNotMatch(JSON.stringify(preview), /s3cret/);
  const saved = await call(ws, 'importLink', { link: LINK });
  assert.equal(saved.ok, true);
  assert.doesNotMatch(JSON.stringify(saved), /s3cret/);
  const [profile] = profiles.list();
  assert.ok(profile);
  assert.doesNotMatch(JSON.stringify(profile), /s3cret/, 'the profile holds only a reference');
  assert.equal(secrets.get(profile.secretRef), 's3cret-link-password');
  const status = await call(ws, 'connect', {});
  assert.equal((status.result as { state: string }).state, 'connected');
  assert.equal(engine.connects[0]?.password, 's3cret-link-password');
  assert.equal(engine.connects[0]?.target.serverName, 'gw.example.com');
  const info = await call(ws, 'getInfo', {});
  assert.equal((info.result as { proxyAddress: string }).proxyAddress, '127.0.0.1:18080');
  assert.ok(events.includes('profiles') && events.includes('status') && events.includes('log'), `events seen: ${events.join(',')}`);
});

test('bad input over the WebSocket is refused with a clear error and changes nothing', async (t) => {
  const { console: c, profiles } = await start(t);
  const cookie = await login(c);
  const ws = await openSocket(c, { origin: c.origin, cookie });
  t.after(() => ws.close());
  const before = profiles.getSettings();
  const unknown = await call(ws, 'dropDatabase', {});
  assert.equal(unknown.error?.code, 'PINHOLE_CONTRACT_INVALID');
  assert.match(unknown.error?.message ?? '', /Unknown command/);
  const wrong = await call(ws, 'setSettings', { localPort: 'x', theme: 'dark' });
  assert.equal(wrong.error?.code, 'PINHOLE_CONTRACT_INVALID');
  const huge = await call(ws, 'setSettings', JSON.stringify({ t: 'call', id: 999, name: 'setSettings', input: { upstreamProxy: 'x'.repeat(300 * 1024) } }));
  assert.equal(huge.error?.code, 'PINHOLE_CONTRACT_INVALID');
  assert.match(huge.error?.message ?? '', /larger than/);
  const notJson = await call(ws, '', '{oops');
  assert.equal(notJson.error?.code, 'PINHOLE_CONTRACT_INVALID');
  assert.deepEqual(profiles.getSettings(), before);
  const ok = await call(ws, 'setSettings', { theme: 'dark' });
  assert.equal((ok.result as { theme: string }).theme, 'dark', 'the connection still works after refusals');
});

test('a frame far over the limit closes the socket (1009) without touching state', async (t) => {
  const { console: c, profiles } = await start(t);
  const cookie = await login(c);
  const ws = await openSocket(c, { origin: c.origin, cookie });
  const closed = closeOf(ws);
  ws.send(JSON.stringify({ t: 'call', id: 1, name: 'setSettings', input: { upstreamProxy: 'y'.repeat(2 * 1024 * 1024) } }));
  assert.equal((await closed).code, 1009);
  assert.equal(profiles.getSettings().upstreamProxy, '');
});

test('an upgrade request on another path, cut by a reset or a FIN at every byte position, never takes the console down', async (t) => {
  const { console: c } = await start(t);
  const upgrade = Buffer.from(`GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1:${c.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  const uncaught: Error[] = [];
  const onUncaught = (err: Error): void => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));
  for (let at = 0; at <= upgrade.length; at++) {
    for (const mode of ['rst', 'fin'] as const) {
      const socket = connect(c.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      await once(socket, 'connect');
      const prefix = upgrade.subarray(0, at);
      if (mode === 'fin') socket.end(prefix);
      else socket.write(prefix, () => socket.resetAndDestroy());
      if (!socket.closed) await once(socket, 'close');
    }
  }
  assert.deepEqual(uncaught, []);
  assert.equal((await get(c.url)).status < 500, true, 'the console still answers');
});
