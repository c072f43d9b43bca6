import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuSecondsBetween, cpuSnapshot, cpuSplitBetween, type CpuSnapshot } from './proc.js';

test('CPU between two snapshots is split into user and system, and a process born in between counts from zero', () => {
  const before: CpuSnapshot = new Map([[10, { user: 100, system: 50 }]]);
  const after: CpuSnapshot = new Map([
    [10, { user: 250, system: 80 }],
    [11, { user: 20, system: 10 }],
  ]);
  assert.deepEqual(cpuSplitBetween(before, after), { user: 1.7, system: 0.4 });
  assert.equal(cpuSecondsBetween(before, after), 2.1);
});

test('this very process shows up in its own snapshot, with user time spent', () => {
  const started = cpuSnapshot([process.pid]);
  let spin = 0;
  const until = Date.now() + 100;
  while (Date.now() < until) spin += 1;
  const split = cpuSplitBetween(started, cpuSnapshot([process.pid]));
  assert.ok(spin > 0);
  assert.ok(split.user > 0, `user time grew: ${JSON.stringify(split)}`);
});
