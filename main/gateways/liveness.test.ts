/**
 * The session liveness watcher against a real Node HTTP/2 server on loopback, reached through a
 * relay that can freeze (connections stay up, nothing moves: what SIGSTOP on the gateway looks
 * like), and its timer rules against a scripted session with fake timers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2Connect, createServer as createH2Server, type ClientHttp2Session, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import { startFreezableRelay, type FreezableRelay } from '../../test/support/hung-endpoint.js';
import { waitUntil } from '../../test/support/processes.js';
import { SessionDeadline, SessionLiveness, type PingableSession } from './liveness.js';

let server: Http2Server;
let serverPings = 0;
const serverSessions = new Set<ServerHttp2Session>();

before(async () => {
  server = createH2Server();
  server.on('session', (session: ServerHttp2Session) => {
    serverSessions.add(session);
    session.on('ping', () => (serverPings += 1));
    session.on('error', () => undefined);
    session.once('close', () => serverSessions.delete(session));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(async () => {
  for (const session of serverSessions) session.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const serverPort = (): number => (server.address() as AddressInfo).port;

/** A client session through a fresh freezable relay, connected (preface exchanged). */
const connectThroughRelay = async (t: { after: (fn: () => unknown) => void }): Promise<{ session: ClientHttp2Session; relay: FreezableRelay }> => {
  const relay = await startFreezableRelay({ target: { port: serverPort() } });
  const session = h2Connect(`http://127.0.0.1:${relay.port}`);
  session.on('error', () => undefined);
  t.after(async () => {
    session.destroy();
    await relay.stop();
  });
  await once(session, 'connect');
  return { session, relay };
};

test('an idle session is PINGed on its interval and every answer is an RTT sample', async (t) => {
  const { session } = await connectThroughRelay(t);
  const watcher = new SessionLiveness(session, { idleIntervalMs: 50, timeoutMs: 1_000 });
  t.after(() => watcher.stop());
  const samples: number[] = [];
  watcher.on('rtt', (ms) => samples.push(ms));
  await waitUntil(() => samples.length >= 3, 5_000, 'three idle PING answers');
  assert.ok(samples.every((ms) => ms >= 0 && ms < 1_000), `loopback round trips: ${samples.join(', ')}`);
  assert.equal(watcher.rttMs, samples.at(-1));
  assert.equal(watcher.alive, true);
});

test('a hundred tunnels waiting at once share one PING: no storm', async (t) => {
  const { session } = await connectThroughRelay(t);
  const watcher = new SessionLiveness(session, { idleIntervalMs: 60_000, timeoutMs: 2_000 });
  t.after(() => watcher.stop());
  const before = serverPings;
  const answers = await Promise.all(Array.from({ length: 100 }, () => watcher.probeNow()));
  assert.equal(new Set(answers).size, 1, 'every waiter got the same answer');
  assert.equal(serverPings - before, 1, 'the gateway saw exactly one PING');
  // The next wait after the answer is a new probe (one at a time, not one per waiter).
  await watcher.probeNow();
  assert.equal(serverPings - before, 2);
});

test('a frozen gateway is declared dead within the timeout on demand, once, and later probes fail at once', async (t) => {
  const { session, relay } = await connectThroughRelay(t);
  const watcher = new SessionLiveness(session, { idleIntervalMs: 60_000 });
  t.after(() => watcher.stop());
  await watcher.probeNow();
  const deaths: PinholeError[] = [];
  watcher.on('dead', (err) => deaths.push(err));
  relay.freeze();
  const started = performance.now();
  await assert.rejects(watcher.probeNow(), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_GATEWAY_UNRESPONSIVE');
  const took = performance.now() - started;
  assert.ok(took >= 1_400 && took < 10_000, `declared dead after the default 1.5 s (${took} ms)`);
  assert.equal(deaths.length, 1);
  assert.equal(watcher.alive, false);
  assert.equal(session.destroyed, false, 'the watcher reports; the caller decides what to do with the session');
  await assert.rejects(watcher.probeNow(), (err: unknown) => err === deaths[0]);
  relay.thaw();
  // A PING of our own, sent after the thaw, is answered after the late one: by then the late answer has arrived.
  await new Promise((resolve) => session.ping(resolve));
  assert.equal(deaths.length, 1, 'a late answer does not resurrect or re-announce it');
});

test('a gateway that freezes while the session is idle is found dead by the idle PING alone', async (t) => {
  const { session, relay } = await connectThroughRelay(t);
  const watcher = new SessionLiveness(session, { idleIntervalMs: 100, timeoutMs: 300 });
  t.after(() => watcher.stop());
  relay.freeze();
  const started = performance.now();
  const [err] = (await once(watcher, 'dead')) as [PinholeError];
  assert.equal(err.code, 'PINHOLE_GATEWAY_UNRESPONSIVE');
  assert.ok(performance.now() - started < 10_000, 'found dead within the idle interval plus the timeout');
});

test('a session whose connection is closed under it is dead with GATEWAY_CLOSED', async (t) => {
  const { session, relay } = await connectThroughRelay(t);
  const watcher = new SessionLiveness(session, { idleIntervalMs: 60_000 });
  const dead = once(watcher, 'dead');
  await relay.stop();
  const [err] = (await dead) as [PinholeError];
  assert.equal(err.code, 'PINHOLE_GATEWAY_CLOSED');
});

/** A session whose PING answers the test decides. */
class ScriptedSession implements PingableSession {
  closed = false;
  destroyed = false;
  connecting = false;
  pings: Array<(err: Error | null, duration: number, payload: Buffer) => void> = [];
  private readonly listeners = new Map<string, Set<() => void>>();
  ping(callback: (err: Error | null, duration: number, payload: Buffer) => void): boolean {
    this.pings.push(callback);
    return true;
  }
  once(event: 'close' | 'connect', listener: () => void): this {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener);
    this.listeners.set(event, set);
    return this;
  }
  removeListener(event: 'close' | 'connect', listener: () => void): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }
  fire(event: 'close' | 'connect'): void {
    const set = this.listeners.get(event);
    this.listeners.delete(event);
    for (const listener of set ?? []) listener();
  }
  answer(i: number, ms = 5): void {
    this.pings[i]?.(null, ms, Buffer.alloc(8));
  }
}

test('the idle PING waits for real silence: activity pushes it back, and none is sent while one is outstanding', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const session = new ScriptedSession();
  const watcher = new SessionLiveness(session, { idleIntervalMs: 1_000, timeoutMs: 1_500 });
  t.mock.timers.tick(600);
  watcher.noteActivity();
  t.mock.timers.tick(400);
  assert.equal(session.pings.length, 0, 'bytes arrived 400 ms ago: not idle yet');
  t.mock.timers.tick(600);
  assert.equal(session.pings.length, 1, 'idle for 1 s: one PING');
  void watcher.probeNow();
  void watcher.probeNow();
  assert.equal(session.pings.length, 1, 'the demand joins the PING in flight');
  t.mock.timers.tick(1_000);
  session.answer(0, 7);
  await Promise.resolve();
  assert.equal(watcher.rttMs, 7);
  t.mock.timers.tick(999);
  assert.equal(session.pings.length, 1);
  t.mock.timers.tick(1);
  assert.equal(session.pings.length, 2, 'the next idle PING one interval after the answer');
  watcher.stop();
});

test('dead is announced once, at the timeout to the millisecond, and a PING before the preface waits for it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const session = new ScriptedSession();
  session.connecting = true;
  const watcher = new SessionLiveness(session, { idleIntervalMs: 10_000, timeoutMs: 1_500 });
  const deaths: PinholeError[] = [];
  watcher.on('dead', (err) => deaths.push(err));
  const probe = watcher.probeNow();
  probe.catch(() => undefined);
  assert.equal(session.pings.length, 0, 'no PING before the preface');
  session.connecting = false;
  session.fire('connect');
  assert.equal(session.pings.length, 1);
  t.mock.timers.tick(1_499);
  assert.equal(deaths.length, 0);
  t.mock.timers.tick(1);
  assert.equal(deaths.length, 1);
  await assert.rejects(probe, (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_GATEWAY_UNRESPONSIVE');
  session.fire('close');
  session.answer(0);
  t.mock.timers.tick(60_000);
  assert.equal(deaths.length, 1, 'neither the close nor a late answer announces it again');
  assert.equal(session.pings.length, 1, 'no PINGs after death');
});

test('a stopped watcher sends nothing and announces nothing', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const session = new ScriptedSession();
  const watcher = new SessionLiveness(session, { idleIntervalMs: 100 });
  let deaths = 0;
  watcher.on('dead', () => (deaths += 1));
  watcher.stop();
  t.mock.timers.tick(10_000);
  session.fire('close');
  assert.equal(session.pings.length, 0);
  assert.equal(deaths, 0);
  await assert.rejects(watcher.probeNow(), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_NOT_CONNECTED');
});

test('a PING unanswered for half the timeout says "slow" once (time to ready the next endpoint); an answer in time says nothing', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const session = new ScriptedSession();
  const watcher = new SessionLiveness(session, { idleIntervalMs: 60_000, timeoutMs: 1_000 });
  let slow = 0;
  watcher.on('slow', () => (slow += 1));
  const first = watcher.probeNow();
  t.mock.timers.tick(400);
  session.answer(0);
  await first;
  t.mock.timers.tick(1_000);
  assert.equal(slow, 0, 'answered after 400 ms: not slow');
  watcher.probeNow().catch(() => undefined);
  t.mock.timers.tick(499);
  assert.equal(slow, 0);
  t.mock.timers.tick(1);
  assert.equal(slow, 1, 'half the timeout without an answer');
  t.mock.timers.tick(500);
  assert.equal(slow, 1, 'once per PING');
  assert.equal(watcher.alive, false, 'then dead at the timeout');
  watcher.stop();
});

/** A session that stopped answering, as the deadline sees it: its socket's byte count and its PINGs. */
class DrainingScript extends ScriptedSession {
  socket = { bytesRead: 1_000 };
}

test('a session that stopped answering is gone only after the whole deadline of silence: bytes or a PING answer start it again', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const session = new DrainingScript();
  const deadline = new SessionDeadline(session, { deadlineMs: 15_000 });
  const gone: PinholeError[] = [];
  deadline.on('gone', (err) => gone.push(err));
  t.mock.timers.tick(4_000);
  assert.equal(session.pings.length, 0, 'quiet for less than a third of the deadline: no PING yet');
  t.mock.timers.tick(1_000);
  assert.equal(session.pings.length, 1, 'quiet for a third of the deadline: one PING');
  t.mock.timers.tick(5_000);
  assert.equal(session.pings.length, 1, 'one PING outstanding at a time');
  session.socket.bytesRead += 1;
  t.mock.timers.tick(1_000);
  assert.ok(deadline.silentForMs <= 1_000, 'a byte from the gateway is a sign of life');
  t.mock.timers.tick(14_000);
  assert.equal(gone.length, 0, '14 s after the last byte: still waiting');
  session.answer(0);
  t.mock.timers.tick(14_000);
  assert.equal(gone.length, 0, 'the late PING answer started the silence again');
  t.mock.timers.tick(1_000);
  assert.equal(gone.length, 1, 'fifteen seconds of silence: gone');
  assert.equal(gone[0]?.code, 'PINHOLE_GATEWAY_UNRESPONSIVE');
  t.mock.timers.tick(60_000);
  assert.equal(gone.length, 1, 'once');
});

test('the deadline counts from when the silence began, a network change ends it at once, and a closed session needs no verdict', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const early = new DrainingScript();
  const started = Date.now();
  const fromPing = new SessionDeadline(early, { deadlineMs: 3_000, silentSince: started - 1_500 });
  let goneEarly = 0;
  fromPing.on('gone', () => (goneEarly += 1));
  t.mock.timers.tick(1_000);
  assert.equal(goneEarly, 0);
  t.mock.timers.tick(750);
  assert.equal(goneEarly, 1, 'gone 3 s after the unanswered PING left, 1.5 s after it was noticed');

  const roaming = new SessionDeadline(new DrainingScript(), { deadlineMs: 15_000 });
  const reasons: string[] = [];
  roaming.on('gone', (err) => reasons.push(err.message));
  roaming.endNow(new PinholeError('PINHOLE_GATEWAY_UNRESPONSIVE', 'The network changed.'));
  assert.deepEqual(reasons, ['The network changed.']);

  const closing = new DrainingScript();
  const closed = new SessionDeadline(closing, { deadlineMs: 1_000 });
  let goneClosed = 0;
  closed.on('gone', () => (goneClosed += 1));
  closing.fire('close');
  t.mock.timers.tick(10_000);
  assert.equal(goneClosed, 0, 'a session that closed on its own is not declared gone');
});
