import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, median, ratio, renderCpuBreakdown, renderTargets, whatWouldCloseIt } from './report.js';

test('medians ignore failed runs, and ratios of missing figures are not numbers', () => {
  assert.equal(median([3, Number.NaN, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(ratio(2, 4), 0.5);
  assert.ok(Number.isNaN(ratio(2, undefined)));
  assert.ok(Number.isNaN(ratio(2, 0)));
});

test('a target is met, not met, or not measured, and the table says which', () => {
  const targets = [
    judge('bulk', 'bulk throughput >= 1.3x seed', 0.7, '>=', 1.3, '0.70x'),
    judge('rttLatency', 'new request over 50 ms RTT <= direct', 0.71, '<=', 1, '0.71x direct'),
    judge('churn', 'no fd growth', Number.NaN, '<=', 0, '-'),
  ];
  assert.deepEqual(targets.map((t) => t.met), [false, true, undefined]);
  const table = renderTargets(targets);
  assert.match(table, /bulk throughput >= 1\.3x seed\s+\| 0\.70x\s+\| NOT MET/);
  assert.match(table, /\| met/);
  assert.match(table, /NOT MEASURED/);
});

test('an unmet throughput or CPU target is followed by what would close it; met ones are not', () => {
  const unmet = whatWouldCloseIt([judge('cpuPerGiB', 'CPU per GiB <= 0.75x seed', 1.6, '<=', 0.75, '1.60x'), judge('bulk', 'bulk throughput >= 1.3x seed', 1.4, '>=', 1.3, '1.40x')]);
  assert.ok(unmet);
  assert.match(unmet, /^CPU per GiB <= 0\.75x seed: NOT MET\./);
  assert.doesNotMatch(unmet, /bulk throughput/, 'a met target is not listed');
  assert.match(unmet, /kTLS/);
  assert.equal(whatWouldCloseIt([judge('rttLatency', 'new request', 0.7, '<=', 1, '0.70x')]), undefined);
  const scale = whatWouldCloseIt([judge('handshakeScale', '--workers 2 scales handshakes near-linearly (>= 1.6x)', 1.05, '>=', 1.6, '1.05x')]);
  assert.match(scale ?? '', /^--workers 2 scales .*: NOT MET\.\nWhat would show the --workers scaling/);
});

test('the CPU breakdown shows user, system and their total per process', () => {
  const text = renderCpuBreakdown([
    { stack: 'seed', process: 'stunnel client', user: 0.5, system: 0.9 },
    { stack: 'pinhole', process: 'gateway', user: 1.6, system: 0.75 },
  ]);
  assert.match(text, /\| seed\s+\| stunnel client \| 0\.50 \| 0\.90\s+\| 1\.40\s+\|/);
  assert.match(text, /\| pinhole \| gateway\s+\| 1\.60 \| 0\.75\s+\| 2\.35\s+\|/);
});
