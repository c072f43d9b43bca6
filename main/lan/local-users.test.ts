import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from '../../shared/errors.js';
import { TestPasswordCheck } from '../../test/support/password-check.js';
import { LocalUsers } from './local-users.js';

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const code = (expected: string) => (err: unknown) => err instanceof PinholeError && err.code === expected && err.status === 407;

test('a terminal with the right Proxy-Authorization gets its user name', async () => {
  const users = new LocalUsers({ check: new TestPasswordCheck({ alice: 'pw' }) });
  assert.equal(await users.authenticateHeader(basic('alice', 'pw'), '192.168.1.10'), 'alice');
  assert.equal(await users.authenticate('alice', 'pw', '192.168.1.10'), 'alice');
});

test('no header is "missing" (407), a wrong password, an unknown user and a broken header are the same "rejected" (407)', async () => {
  const users = new LocalUsers({ check: new TestPasswordCheck({ alice: 'pw' }) });
  await assert.rejects(users.authenticateHeader(undefined, 's'), code('PINHOLE_LOCAL_AUTH_MISSING'));
  await assert.rejects(users.authenticateHeader('  ', 's'), code('PINHOLE_LOCAL_AUTH_MISSING'));
  for (const header of [basic('alice', 'wrong'), basic('mallory', 'pw'), 'Basic !!!', 'Digest x']) {
    await assert.rejects(users.authenticateHeader(header, `s-${header}`), code('PINHOLE_LOCAL_AUTH_REJECTED'));
  }
});

test('after 5 failures a source is held off without checking, others are not, and the penalty ends', async () => {
  let now = 1_000;
  const check = new TestPasswordCheck({ alice: 'pw' });
  const users = new LocalUsers({ check, now: () => now, penaltyMs: 10_000 });
  for (let i = 0; i < 5; i++) await assert.rejects(users.authenticate('alice', `guess${i}`, '10.0.0.9'), code('PINHOLE_LOCAL_AUTH_REJECTED'));
  assert.ok(users.heldOff('10.0.0.9'));
  const calls = check.calls;
  await assert.rejects(users.authenticate('alice', 'pw', '10.0.0.9'), code('PINHOLE_LOCAL_AUTH_REJECTED'));
  assert.equal(check.calls, calls, 'a held-off source is not checked at all');
  assert.equal(await users.authenticate('alice', 'pw', '10.0.0.10'), 'alice', 'another terminal is not hurt');
  now += 10_001;
  assert.equal(await users.authenticate('alice', 'pw', '10.0.0.9'), 'alice');
  assert.ok(!users.heldOff('10.0.0.9'));
});

test('the penalty doubles for a source that keeps guessing', async () => {
  let now = 0;
  const users = new LocalUsers({ check: new TestPasswordCheck({}), now: () => now, penaltyMs: 1_000, maxFailures: 1 });
  await assert.rejects(users.authenticate('x', 'y', 'a'));
  now += 1_001;
  assert.ok(!users.heldOff('a'));
  await assert.rejects(users.authenticate('x', 'y', 'a'));
  now += 1_001;
  assert.ok(users.heldOff('a'), 'the second burst is held off for 2 s');
});

test('remembered sources are bounded: the oldest is forgotten', async () => {
  const users = new LocalUsers({ check: new TestPasswordCheck({}), maxFailures: 1, maxSources: 3 });
  for (const source of ['a', 'b', 'c', 'd']) await assert.rejects(users.authenticate('x', 'y', source));
  assert.ok(!users.heldOff('a'));
  for (const source of ['b', 'c', 'd']) assert.ok(users.heldOff(source));
});
