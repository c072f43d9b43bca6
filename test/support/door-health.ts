/**
 * After hostile or broken clients at a stack's doors (the fuzz tests): both processes are up and
 * still serve a real request, and their descriptors come back to where they were.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { requestThroughProxy } from './proxy-requests.js';
import { explainFailure } from './processes.js';
import { startPinholeStack, type PinholeStack } from './stack.js';

export interface Descriptors {
  readonly gateway: number;
  readonly client: number;
}

const fdCount = (pid: number | undefined): number => (pid === undefined ? Number.NaN : readdirSync(`/proc/${pid}/fd`).length);

/** Open descriptors of the gateway and the client, from /proc. */
export const descriptorsOf = (stack: PinholeStack): Descriptors => ({ gateway: fdCount(stack.gateway.program.pid), client: fdCount(stack.client.program.pid) });

/** Both processes run, and a real HTTPS request through the client's proxy gets 200. */
export const assertServes = async (stack: PinholeStack): Promise<void> => {
  assert.ok(stack.gateway.program.running, 'the gateway is running');
  assert.ok(stack.client.program.running, 'the client is running');
  const res = await requestThroughProxy({ proxy: stack.proxy, url: `https://127.0.0.1:${stack.origin.httpsPort}/hello`, timeoutMs: 20_000 });
  assert.equal(res.status, 200);
};

/**
 * Waits (up to `withinMs`) until both processes hold at most `slack` descriptors more than `before`
 * (pools refill, a refusal lingers up to 2 s, header timers up to 10 s); fails naming their sockets.
 */
export const assertDescriptorsReturn = async (stack: PinholeStack, before: Descriptors, what: string, withinMs = 40_000, slack = 4): Promise<void> => {
  const deadline = Date.now() + withinMs;
  let after = descriptorsOf(stack);
  while ((after.gateway > before.gateway + slack || after.client > before.client + slack) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    after = descriptorsOf(stack);
  }
  // Only read on a failure, and without TIME-WAIT (owned by no process): a busy machine can hold tens of thousands.
  const sockets = (pid: number | undefined): string =>
    execFileSync('ss', ['-tanp', 'exclude', 'time-wait'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n').filter((l) => l.includes(`pid=${pid},`)).join('\n');
  if (after.gateway > before.gateway + slack) assert.fail(`gateway descriptors ${before.gateway} -> ${after.gateway} after ${what}:\n${sockets(stack.gateway.program.pid)}`);
  if (after.client > before.client + slack) assert.fail(`client descriptors ${before.client} -> ${after.client} after ${what}:\n${sockets(stack.client.program.pid)}`);
};

/**
 * A hostile story at a fresh stack's doors: it serves before, `story` does its worst and returns
 * what it did (for messages), then both processes still serve and their descriptors come back.
 */
export const afterHostileClients = async (t: { after: (fn: () => Promise<void>) => void }, story: (stack: PinholeStack) => Promise<string>): Promise<void> => {
  const stack = await startPinholeStack();
  t.after(() => stack.stop());
  await explainFailure(stack.peers, async () => {
    await assertServes(stack);
    const before = descriptorsOf(stack);
    const what = await story(stack);
    await assertServes(stack);
    // Descriptors come back: waited for, bounded.
    await assertDescriptorsReturn(stack, before, what);
    await assertServes(stack);
  });
};
