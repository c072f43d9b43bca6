import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Penalties, type PenaltySettings } from './penalties.js';

const SETTINGS: PenaltySettings = {
  maxFailures: 5,
  maxSourceFailures: 12,
  delayAfter: 2,
  delayMs: 100,
  delayMaxMs: 1_000,
  windowSeconds: 60,
  blockSeconds: 10,
  blockMaxSeconds: 40,
};

const fail = async (p: Penalties, source: string, user: string, times: number): Promise<void> => {
  for (let i = 0; i < times; i++) await p.failed(source, user);
};

test('a guessed pair is answered freely, then held longer and longer, then refused with a Retry-After', async () => {
  const p = new Penalties(SETTINGS);
  const delays: number[] = [];
  for (let i = 0; i < SETTINGS.maxFailures; i++) {
    const verdict = await p.verdict('203.0.113.7', 'alice');
    assert.equal(verdict.refused, false, `attempt ${i + 1}`);
    if (!verdict.refused) delays.push(verdict.delayMs);
    const count = await p.failed('203.0.113.7', 'alice');
    assert.equal(count.failures, i + 1);
    assert.equal(count.blocked === undefined, i + 1 < SETTINGS.maxFailures, `the failure that reaches the limit starts the refusal (attempt ${i + 1})`);
  }
  assert.deepEqual(delays, [0, 0, 100, 200, 400], 'free up to delayAfter, then doubling');
  const verdict = await p.verdict('203.0.113.7', 'alice');
  assert.deepEqual(verdict, { refused: true, retryAfterSeconds: 10, scope: 'user' });
  // Another user from the same source, and the same user from elsewhere, are not refused.
  assert.equal((await p.verdict('203.0.113.7', 'bob')).refused, false);
  assert.deepEqual(await p.verdict('198.51.100.1', 'alice'), { refused: false, delayMs: 0 });
});

test('delays stop at delayMaxMs', () => {
  const p = new Penalties(SETTINGS);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 40].map((e) => p.delayFor(e)), [0, 100, 200, 400, 800, 1_000, 1_000]);
});

test('a source guessing many users is refused as a whole once it reaches its own limit', async () => {
  const p = new Penalties(SETTINGS);
  for (let i = 0; i < SETTINGS.maxSourceFailures - 1; i++) await p.failed('192.0.2.9', `user${i}`);
  // Every pair is fresh, but the source is close to its limit: its answers are held.
  const near = await p.verdict('192.0.2.9', 'someone-new');
  assert.ok(!near.refused && near.delayMs > 0, 'held near the source limit');
  const last = await p.failed('192.0.2.9', 'one-more');
  assert.deepEqual(last.blocked, { scope: 'source', seconds: 10 });
  const verdict = await p.verdict('192.0.2.9', 'anyone');
  assert.equal(verdict.refused, true);
  assert.equal(verdict.refused && verdict.scope, 'source');
});

test('a right password forgets that pair\'s failures', async () => {
  const p = new Penalties(SETTINGS);
  await fail(p, '203.0.113.7', 'alice', 4);
  assert.ok(((await p.verdict('203.0.113.7', 'alice')) as { delayMs: number }).delayMs > 0);
  await p.succeeded('203.0.113.7', 'alice');
  assert.deepEqual(await p.verdict('203.0.113.7', 'alice'), { refused: false, delayMs: 0 });
});

test('refusals end after their time, double for a repeat offender up to the maximum, and the failures decay', async (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_000_000 });
  const p = new Penalties(SETTINGS);
  const refusedFor = async (): Promise<number | undefined> => {
    const v = await p.verdict('203.0.113.7', 'alice');
    return v.refused ? v.retryAfterSeconds : undefined;
  };
  const blocks: number[] = [];
  for (let round = 0; round < 4; round++) {
    await fail(p, '203.0.113.7', 'alice', SETTINGS.maxFailures);
    const seconds = await refusedFor();
    assert.ok(seconds !== undefined, `refused in round ${round + 1}`);
    blocks.push(seconds);
    t.mock.timers.tick(seconds * 1000 - 1);
    assert.equal(await refusedFor(), 1, 'still refused until the very end');
    t.mock.timers.tick(1);
    assert.equal(await refusedFor(), undefined, `the refusal ends after ${seconds} s`);
  }
  assert.deepEqual(blocks, [10, 20, 40, 40], 'each repeat doubles, up to blockMaxSeconds');
  // Quiet for twice the longest refusal: the next refusal starts from the base again.
  t.mock.timers.tick(2 * SETTINGS.blockMaxSeconds * 1000);
  await fail(p, '203.0.113.7', 'alice', SETTINGS.maxFailures);
  assert.equal(await refusedFor(), 10);
  // Failures short of a refusal are forgotten when their window ends.
  await fail(p, '198.51.100.1', 'bob', 4);
  assert.ok(((await p.verdict('198.51.100.1', 'bob')) as { delayMs: number }).delayMs > 0);
  t.mock.timers.tick(SETTINGS.windowSeconds * 1000);
  assert.deepEqual(await p.verdict('198.51.100.1', 'bob'), { refused: false, delayMs: 0 });
});
