import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { hashPassword } from '../../node/htpasswd.js';
import { UserStore } from '../users.js';
import { Authenticator } from '../auth/authenticator.js';
import { AuthEvents, type AuthEvent } from '../auth/events.js';
import { Penalties, type PenaltySettings } from '../auth/penalties.js';
import { rotateCredentialKeys } from './credential-keys.js';
import { TunnelCredentials } from './credentials.js';

const PENALTIES: PenaltySettings = { maxFailures: 4, maxSourceFailures: 30, delayAfter: 2, delayMs: 1, delayMaxMs: 4, windowSeconds: 60, blockSeconds: 30, blockMaxSeconds: 60 };
const logger = createLogger({ name: 'test', level: 'silent' });
const ALICE = { subject: 'alice-sub', issuer: 'https://idp.example.com', email: 'alice@example.com' };
const SOURCE = '198.51.100.20:40000';

const setup = async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-bearer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'users'), `alice:${await hashPassword('alice-pw', 4)}\n`);
  const keys = join(dir, 'credential-keys');
  await rotateCredentialKeys(keys);
  const credentials = new TunnelCredentials(keys, 3600, 30, logger);
  const events = new AuthEvents();
  const seen: Array<[string, AuthEvent]> = [];
  for (const name of ['failure', 'penalty', 'refusal'] as const) events.on(name, (info) => seen.push([name, info]));
  const auth = new Authenticator(new UserStore(join(dir, 'users')), new Penalties(PENALTIES), events, logger, { concurrency: 1, maxPending: 64, negativeCacheMs: 60_000 }, credentials);
  return { auth, credentials, seen };
};

const outcome = (p: Promise<string>): Promise<string> => p.catch((err: unknown) => (err instanceof PinholeError ? err.code : Promise.reject(err)));

test('Bearer credentials: a valid one is the user, forged ones are penalised like wrong passwords, a valid one still works from that source, Basic unchanged', async (t) => {
  const { auth, credentials, seen } = await setup(t);
  const { credential } = await credentials.issue(ALICE);
  assert.equal(await auth.authenticate(`Bearer ${credential}`, SOURCE), 'alice@example.com');
  assert.equal(await auth.authenticate(`bearer ${credential}`, SOURCE), 'alice@example.com', 'the scheme is case-insensitive');
  const answers: string[] = [];
  for (let i = 0; i < 6; i++) answers.push(await outcome(auth.authenticate(`Bearer ${credential.slice(0, -4)}AAA${i}`, SOURCE)));
  assert.deepEqual(answers, ['PINHOLE_CREDENTIAL_INVALID', 'PINHOLE_CREDENTIAL_INVALID', 'PINHOLE_CREDENTIAL_INVALID', 'PINHOLE_CREDENTIAL_INVALID', 'PINHOLE_AUTH_THROTTLED', 'PINHOLE_AUTH_THROTTLED']);
  assert.ok(seen.some(([name, e]) => name === 'penalty' && e.code === 'PINHOLE_AUTH_THROTTLED'));
  assert.equal(await auth.authenticate(`Bearer ${credential}`, SOURCE), 'alice@example.com', 'a valid credential is never refused');
  assert.equal(await auth.authenticate(`Basic ${Buffer.from('alice:alice-pw').toString('base64')}`, '203.0.113.9:1'), 'alice');
});

test('an expired credential is refused with its code and its user, and is not a penalty', async (t) => {
  const { auth, credentials, seen } = await setup(t);
  const { credential } = await credentials.issue(ALICE, Date.now() - 2 * 3600_000);
  for (let i = 0; i < 6; i++) {
    await assert.rejects(auth.authenticate(`Bearer ${credential}`, SOURCE), (err: PinholeError) => err.code === 'PINHOLE_CREDENTIAL_EXPIRED' && err.details?.['user'] === 'alice@example.com');
  }
  assert.equal(seen.filter(([name]) => name === 'penalty').length, 0);
  assert.equal(seen.filter(([name, e]) => name === 'failure' && e.code === 'PINHOLE_CREDENTIAL_EXPIRED').length, 6);
});

test('without identity set up, a Bearer header is just not Basic: rejected as before', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-bearer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'users'), `alice:${await hashPassword('alice-pw', 4)}\n`);
  const auth = new Authenticator(new UserStore(join(dir, 'users')), new Penalties(PENALTIES), new AuthEvents(), logger, { concurrency: 1, maxPending: 64, negativeCacheMs: 60_000 });
  assert.equal(await outcome(auth.authenticate('Bearer abc.def.ghi', SOURCE)), 'PINHOLE_AUTH_REJECTED');
});
