import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { hashPassword } from '../../node/htpasswd.js';
import { UserStore } from '../users.js';
import { Authenticator, type AuthenticatorSettings } from './authenticator.js';
import { AuthEvents, type AuthEvent } from './events.js';
import { Penalties, type PenaltySettings } from './penalties.js';

const PENALTIES: PenaltySettings = { maxFailures: 4, maxSourceFailures: 30, delayAfter: 2, delayMs: 1, delayMaxMs: 4, windowSeconds: 60, blockSeconds: 30, blockMaxSeconds: 60 };
const QUEUE: AuthenticatorSettings = { concurrency: 1, maxPending: 64, negativeCacheMs: 60_000 };
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const NAT = '198.51.100.20:40000';

const setup = async (t: TestContext, settings: AuthenticatorSettings = QUEUE) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'users');
  // Cost 4 keeps the test quick; the decoy follows the file's cost.
  await writeFile(file, `alice:${await hashPassword('alice-pw', 4)}\nbob:${await hashPassword('bob-pw', 4)}\n`);
  const store = new UserStore(file);
  const checks = t.mock.method(store, 'check');
  const events = new AuthEvents();
  const seen: Array<[string, AuthEvent]> = [];
  for (const name of ['failure', 'penalty', 'refusal'] as const) events.on(name, (info) => seen.push([name, info]));
  const auth = new Authenticator(store, new Penalties(PENALTIES), events, createLogger({ name: 'test', level: 'silent' }), settings);
  return { auth, checks, seen };
};

const outcome = (p: Promise<string>): Promise<string | PinholeError> => p.catch((err: unknown) => (err instanceof PinholeError ? err : Promise.reject(err)));

test('the real user behind a guesser\'s address keeps working: a verified credential is never penalised', async (t) => {
  const { auth, checks, seen } = await setup(t);
  assert.equal(await auth.authenticate(basic('alice', 'alice-pw'), NAT), 'alice');
  const answers: string[] = [];
  for (let i = 0; i < 8; i++) {
    const result = await outcome(auth.authenticate(basic('alice', `guess-${i}`), '198.51.100.20:5000'));
    answers.push(typeof result === 'string' ? 'ok' : result.code);
  }
  assert.deepEqual(answers.slice(0, 4), Array(4).fill('PINHOLE_AUTH_REJECTED'));
  assert.deepEqual(answers.slice(4), Array(4).fill('PINHOLE_AUTH_THROTTLED'), 'the guesser is refused after maxFailures');
  const before = checks.mock.callCount();
  assert.equal(await auth.authenticate(basic('alice', 'alice-pw'), NAT), 'alice', 'the real user, same address, same user name');
  assert.equal(checks.mock.callCount(), before, 'answered from the success cache, without bcrypt');
  const refused = await outcome(auth.authenticate(basic('alice', 'another-guess'), NAT));
  assert.ok(refused instanceof PinholeError);
  assert.equal(refused.code, 'PINHOLE_AUTH_THROTTLED');
  assert.equal(refused.status, 429);
  assert.equal(refused.details?.['retryAfterSeconds'], 30);
  assert.ok(seen.some(([name, e]) => name === 'penalty' && e.kind === 'refused' && e.user === 'alice' && e.source === '198.51.100.20' && e.client === NAT));
  assert.equal(seen.filter(([name]) => name === 'failure').length, 4);
  assert.ok(!JSON.stringify(seen).includes('guess-'), 'no password in any event');
});

test('a wrong password for a known user and any password for an unknown one get the same answer after the same work', async (t) => {
  const { auth, checks } = await setup(t);
  const known = await outcome(auth.authenticate(basic('alice', 'nope'), '192.0.2.1:1'));
  const unknown = await outcome(auth.authenticate(basic('mallory', 'nope'), '192.0.2.2:1'));
  assert.ok(known instanceof PinholeError && unknown instanceof PinholeError);
  assert.deepEqual([known.code, known.status, known.message, known.details], [unknown.code, unknown.status, unknown.message, unknown.details]);
  assert.equal(checks.mock.callCount(), 2, 'both went through a full check (the unknown one against the decoy)');
});

test('the same wrong credential again is answered from the negative cache: no bcrypt, not counted again', async (t) => {
  const { auth, checks, seen } = await setup(t);
  for (let i = 0; i < 6; i++) {
    const result = await outcome(auth.authenticate(basic('bob', 'stale-password'), '192.0.2.5:1'));
    assert.ok(result instanceof PinholeError && result.code === 'PINHOLE_AUTH_REJECTED', `repeat ${i}: a misconfigured client is not locked out`);
  }
  assert.equal(checks.mock.callCount(), 1);
  assert.equal(await auth.authenticate(basic('bob', 'bob-pw'), '192.0.2.5:1'), 'bob');
  assert.equal(seen.filter(([name]) => name === 'failure').length, 6, 'every wrong answer is still a failure event');
});

test('many tunnels opened at once with one new credential cost one check', async (t) => {
  const { auth, checks } = await setup(t, { ...QUEUE, maxPending: 2 });
  const users = await Promise.all(Array.from({ length: 50 }, () => auth.authenticate(basic('alice', 'alice-pw'), '192.0.2.7:1')));
  assert.deepEqual(new Set(users), new Set(['alice']));
  assert.equal(checks.mock.callCount(), 1);
});

test('when the check queue is full the answer is 503 PINHOLE_AUTH_BUSY with a Retry-After, and nothing waits unbounded', async (t) => {
  const { auth, seen } = await setup(t, { ...QUEUE, maxPending: 2 });
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => outcome(auth.authenticate(basic(`user${i}`, 'x'), `192.0.2.${10 + i}:1`))));
  const codes = results.map((r) => (typeof r === 'string' ? r : r.code));
  assert.equal(codes.filter((c) => c === 'PINHOLE_AUTH_REJECTED').length, 2, codes.join(','));
  const busy = results.filter((r): r is PinholeError => r instanceof PinholeError && r.code === 'PINHOLE_AUTH_BUSY');
  assert.equal(busy.length, 4);
  assert.equal(busy[0]?.status, 503);
  assert.equal(busy[0]?.details?.['retryAfterSeconds'], 1);
  assert.equal(seen.filter(([name, e]) => name === 'refusal' && e.code === 'PINHOLE_AUTH_BUSY').length, 4);
});

test('no credentials is the ordinary challenge: 407 PINHOLE_AUTH_MISSING, not a failure', async (t) => {
  const { auth, seen } = await setup(t);
  const result = await outcome(auth.authenticate(undefined, '192.0.2.1:1'));
  assert.ok(result instanceof PinholeError && result.code === 'PINHOLE_AUTH_MISSING');
  assert.equal(seen.length, 0);
});
