/**
 * Hostile clients against a real gateway (issue 9), with real flood traffic on loopback, bounded
 * in count and time: a guesser is slowed, then refused with 429 + Retry-After + a code, and the
 * refusal decays; the real user with the right password behind the same address is unaffected;
 * wrong passwords for known and unknown users get byte-identical answers; a full check queue
 * answers 503 + Retry-After; a user at the tunnel limit gets a clear 429.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect, type IncomingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { guessFlood, guessOnce, type GuessTarget } from '../support/guesser.js';
import { DEFAULT_USER, isAccessRecord } from '../support/gateway.js';
import { explainFailure, type LogRecord } from '../support/processes.js';
import { openTunnel, requestThroughProxy, sendRaw, type ProxyAddress } from '../support/proxy-requests.js';
import { startPinholeStack, type PinholeStack } from '../support/stack.js';

const stackWith = async (t: TestContext, runArgs: string[]): Promise<PinholeStack> => {
  const stack = await startPinholeStack({ gateway: { runArgs } });
  t.after(() => stack.stop());
  return stack;
};

const gatewayAddress = (stack: PinholeStack, auth?: { user: string; password: string }): ProxyAddress => ({
  port: stack.gateway.port,
  tls: { servername: stack.gateway.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] },
  ...(auth === undefined ? {} : { auth }),
});

const hello = (stack: PinholeStack): string => `https://127.0.0.1:${stack.origin.httpsPort}/hello`;

/** A real request through `pinhole connect` (h2 to the gateway, a new tunnel per request). */
const realUserRequest = async (stack: PinholeStack): Promise<number> => {
  const res = await requestThroughProxy({ proxy: stack.proxy, url: hello(stack), timeoutMs: 20_000 });
  assert.equal(res.status, 200, `the real user got ${res.status}: ${res.body.toString()}`);
  return res.status;
};

const PENALTY_FLAGS = ['--auth-max-failures', '4', '--auth-delay-after', '2', '--auth-delay', '0.05', '--auth-delay-max', '0.3', '--auth-block', '5', '--auth-block-max', '10'];

test('a guessing flood is slowed, then refused with 429 + Retry-After, the refusal decays, and the real user behind the same address is unaffected', { timeout: 120_000 }, async (t) => {
  const stack = await stackWith(t, PENALTY_FLAGS);
  await explainFailure(stack.peers, async () => {
    await realUserRequest(stack); // the real user's credential is now verified (success cache)
    const target: GuessTarget = { port: stack.gateway.port, hostname: stack.gateway.hostname, target: `127.0.0.1:${stack.origin.httpsPort}`, user: DEFAULT_USER.name };
    let flooding = true;
    const realUser = (async () => {
      let served = 0;
      while (flooding) served += (await realUserRequest(stack)) === 200 ? 1 : 0;
      return served;
    })();
    const guesses = await guessFlood({ ...target, concurrency: 8, maxGuesses: 400, until: Date.now() + 40_000, stop: (g) => g.filter((x) => x.status === 429).length >= 12 });
    flooding = false;
    const served = await realUser;
    assert.ok(served >= 1, 'the real user was served during the flood');

    const statuses = guesses.map((g) => g.status);
    assert.ok(!statuses.includes(200), 'no guess got in');
    assert.ok(!statuses.includes(0), `every guess got an answer: ${guesses.filter((g) => g.status === 0).map((g) => g.code).join('; ')}`);
    const checked = guesses.filter((g) => g.status === 407).length;
    // At most maxFailures answered before the refusal, plus those already in flight (8 lanes).
    assert.ok(checked >= 4 && checked <= 4 + 8, `407 answers: ${checked}: ${guesses.map((g) => `${g.status}@${g.at % 100000}`).join(" ")}`);
    const refused = guesses.filter((g) => g.status === 429);
    assert.ok(refused.length >= 12, `429 answers: ${refused.length}`);
    // A guesser is told the status and when to come back, not the gateway's code (it is in the gateway's log).
    assert.ok(stack.gateway.accessLog().some((r) => r['code'] === 'PINHOLE_AUTH_THROTTLED'), 'the access log names the refusal');
    for (const r of refused) {
      assert.equal(r.code, undefined, 'a plain 429');
      assert.match(r.retryAfter ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
    }
    const firstRefusal = refused[0]?.at ?? 0;
    const lateChecks = guesses.filter((g) => g.status === 407 && g.at - g.ms > firstRefusal);
    assert.deepEqual(lateChecks, [], 'once refused, every new guess is refused (only guesses already in flight were checked)');

    // The real user, the same address and user name, on a brand-new HTTP/1.1 connection: still in.
    const direct = await requestThroughProxy({ proxy: gatewayAddress(stack, { user: DEFAULT_USER.name, password: DEFAULT_USER.password }), url: hello(stack), timeoutMs: 20_000 });
    assert.equal(direct.status, 200);
    await realUserRequest(stack);

    // The refusal decays: after its Retry-After a wrong password is checked again (407).
    const deadline = Date.now() + 30_000;
    let after = await guessOnce(target, 'after-the-block');
    while (after.status === 429 && Date.now() < deadline) {
      // Not a stand-in for an event: the block running out is the behaviour, and the gateway logs
      // nothing when it does; each retry comes no sooner than half the Retry-After it was told.
      await new Promise((r) => setTimeout(r, Number(after.retryAfter ?? '1') * 500));
      after = await guessOnce(target, `after-the-block-${Date.now()}`);
    }
    assert.equal(after.status, 407, 'the penalty decayed');

    // The log names the source and the user of every failure and refusal, never the password.
    const records = stack.gateway.program.records;
    const failures = records.filter((r) => r.msg === 'A sign-in failed: wrong user name or password.');
    assert.ok(failures.length >= 4);
    assert.ok(failures.every((r) => r['user'] === DEFAULT_USER.name && r['source'] === '127.0.0.1' && typeof r['client'] === 'string'));
    assert.ok(records.some((r) => r.msg === 'A sign-in was refused: too many wrong passwords from this source.' && r['user'] === DEFAULT_USER.name));
    assert.ok(!stack.gateway.program.transcript().includes('wrong-'), 'no guessed password in the log');
    assert.ok(stack.gateway.accessLog().some((r) => r['code'] === 'PINHOLE_AUTH_THROTTLED' && r['status'] === 429));
  });
});

test('a wrong password for a known user and for an unknown one get byte-identical answers (HTTP/1.1 and WebSocket)', { timeout: 60_000 }, async (t) => {
  const stack = await stackWith(t, []);
  await explainFailure(stack.peers, async () => {
    const target = `127.0.0.1:${stack.origin.httpsPort}`;
    const base: GuessTarget = { port: stack.gateway.port, hostname: stack.gateway.hostname, target, user: DEFAULT_USER.name };
    const known = await guessOnce(base, 'not-the-password');
    const unknown = await guessOnce({ ...base, user: 'nobody-here' }, 'not-the-password');
    assert.equal(known.status, 407);
    assert.equal(known.raw, unknown.raw);
    const upgrade = (user: string): string =>
      `GET /pinhole/ws HTTP/1.1\r\nHost: ${stack.gateway.hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nPinhole-Target: ${target}\r\nAuthorization: Basic ${Buffer.from(`${user}:wrong-again`).toString('base64')}\r\n\r\n`;
    const wsKnown = await sendRaw(gatewayAddress(stack), upgrade(DEFAULT_USER.name));
    const wsUnknown = await sendRaw(gatewayAddress(stack), upgrade('nobody-here'));
    assert.equal(wsKnown.status, 407);
    assert.deepEqual([wsKnown.status, wsKnown.headers, wsKnown.body.toString()], [wsUnknown.status, wsUnknown.headers, wsUnknown.body.toString()]);
  });
});

test('when password checks pile up the gateway answers a plain 503 with Retry-After (PINHOLE_AUTH_BUSY in its log) instead of queueing without end', { timeout: 60_000 }, async (t) => {
  const stack = await stackWith(t, ['--auth-max-pending', '1', '--auth-concurrency', '1']);
  await explainFailure(stack.peers, async () => {
    await realUserRequest(stack);
    const base: GuessTarget = { port: stack.gateway.port, hostname: stack.gateway.hostname, target: `127.0.0.1:${stack.origin.httpsPort}`, user: 'x' };
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => guessOnce({ ...base, user: `user-${i}` }, `pw-${i}`)));
    const busy = answers.filter((a) => a.status === 503);
    assert.ok(busy.length >= 1, `statuses: ${answers.map((a) => a.status).join(',')}`);
    for (const b of busy) {
      assert.equal(b.code, undefined, 'a plain 503');
      assert.equal(b.retryAfter, '1');
    }
    assert.ok(answers.every((a) => a.status === 503 || a.status === 407));
    assert.ok(stack.gateway.accessLog().some((r) => r['code'] === 'PINHOLE_AUTH_BUSY'), 'the access log names the refusal');
    await realUserRequest(stack);
  });
});

test('a user at the tunnel limit gets 429 PINHOLE_LIMIT_REACHED, and a closed tunnel frees its place', { timeout: 60_000 }, async (t) => {
  const stack = await stackWith(t, ['--max-tunnels-per-user', '2']);
  await explainFailure(stack.peers, async () => {
    const proxy = gatewayAddress(stack, { user: DEFAULT_USER.name, password: DEFAULT_USER.password });
    const target = `127.0.0.1:${stack.origin.httpsPort}`;
    const held = [await openTunnel({ proxy, target }), await openTunnel({ proxy, target })];
    assert.deepEqual(held.map((h) => h.status), [200, 200]);
    const third = await openTunnel({ proxy, target });
    assert.equal(third.status, 429);
    assert.equal(third.headers['pinhole-error'], 'PINHOLE_LIMIT_REACHED');
    const ok = (r: LogRecord): boolean => isAccessRecord(r) && r['status'] === 200;
    const endedBefore = stack.gateway.accessLog().filter(ok).length;
    held[0]?.socket.destroy();
    // The gateway frees a tunnel's place before it logs the tunnel's end: once logged, a new one fits.
    await stack.gateway.program.waitForLogs(ok, endedBefore + 1, 15_000, 'the closed tunnel in the access log');
    const again = await openTunnel({ proxy, target });
    assert.equal(again.status, 200, `${again.status} ${again.headers['pinhole-error'] ?? ''}`);
    again.socket.destroy();
    held[1]?.socket.destroy();
  });
});

test('every door applies the penalty: HTTP/1.1 CONNECT, absolute URI, HTTP/2 CONNECT stream and WebSocket upgrade all answer a plain 429 + Retry-After', { timeout: 90_000 }, async (t) => {
  const stack = await stackWith(t, PENALTY_FLAGS);
  await explainFailure(stack.peers, async () => {
    const target = `127.0.0.1:${stack.origin.httpsPort}`;
    await realUserRequest(stack); // the real user's credential is verified before the guessing starts
    const base: GuessTarget = { port: stack.gateway.port, hostname: stack.gateway.hostname, target, user: DEFAULT_USER.name };
    let last = await guessOnce(base, 'first-wrong');
    for (let i = 0; i < 12 && last.status !== 429; i++) last = await guessOnce(base, `wrong-door-${i}`);
    assert.equal(last.status, 429, 'the HTTP/1.1 CONNECT door refuses');
    const wrong = `Basic ${Buffer.from(`${DEFAULT_USER.name}:still-wrong`).toString('base64')}`;

    const absolute = await sendRaw(gatewayAddress(stack), `GET http://127.0.0.1:${stack.origin.httpPort}/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: ${wrong}\r\n\r\n`);
    assert.deepEqual([absolute.status, absolute.headers['pinhole-error']], [429, undefined]);
    assert.match(absolute.headers['retry-after'] ?? '', /^\d+$/);

    const ws = await sendRaw(
      gatewayAddress(stack),
      `GET /pinhole/ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nPinhole-Target: ${target}\r\nAuthorization: ${wrong}\r\n\r\n`,
    );
    assert.deepEqual([ws.status, ws.headers['pinhole-error']], [429, undefined]);
    assert.match(ws.headers['retry-after'] ?? '', /^\d+$/);

    const session = h2connect(`https://127.0.0.1:${stack.gateway.port}`, { rejectUnauthorized: false, servername: stack.gateway.hostname } as SecureClientSessionOptions);
    t.after(() => session.destroy());
    const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': target, 'proxy-authorization': wrong });
      stream.once('response', resolve);
      stream.once('error', reject);
      stream.resume();
    });
    assert.deepEqual([headers[':status'], headers['pinhole-error']], [429, undefined]);
    assert.match(String(headers['retry-after'] ?? ''), /^\d+$/);

    // And the real user's (verified) credential still opens the door.
    await realUserRequest(stack);
  });
});
