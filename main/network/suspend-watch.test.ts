/** The resume check over clocks the test moves: a late timer (SIGSTOP) and a wall-clock jump (sleep) are resumes; a normal tick is not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SuspendWatch } from './suspend-watch.js';

const clocks = (): { wall: number; mono: number; watch: SuspendWatch; resumes: number[] } => {
  const state = { wall: 1_000_000, mono: 500, resumes: [] as number[] } as { wall: number; mono: number; watch: SuspendWatch; resumes: number[] };
  state.watch = new SuspendWatch({ intervalMs: 1_000, thresholdMs: 3_000, wallClock: () => state.wall, monotonic: () => state.mono });
  state.watch.on('resume', (ms) => state.resumes.push(ms));
  state.watch.start();
  state.watch.stop();
  return state;
};

test('ticks on time, and a timer a little late on a busy machine, are not resumes', () => {
  const c = clocks();
  for (const late of [0, 0, 1_500, 2_900]) {
    c.wall += 1_000 + late;
    c.mono += 1_000 + late;
    c.watch.check();
  }
  assert.deepEqual(c.resumes, []);
});

test('a stopped process (both clocks moved, the timer fired 90 s late) is a resume', () => {
  const c = clocks();
  c.wall += 91_000;
  c.mono += 91_000;
  c.watch.check();
  assert.deepEqual(c.resumes, [90_000]);
});

test('a sleeping laptop (the wall clock jumped, the monotonic one did not) is a resume', () => {
  const c = clocks();
  c.wall += 3_601_000;
  c.mono += 1_000;
  c.watch.check();
  assert.deepEqual(c.resumes, [3_600_000]);
  c.wall += 1_000;
  c.mono += 1_000;
  c.watch.check();
  assert.equal(c.resumes.length, 1, 'once');
});
