/**
 * The network watch over recorded `ip -o monitor address route` lines: which lines are address
 * changes and which route changes, a burst is one 'change', a missing `ip` is said once and
 * watched no further, and stop() ends the child.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../shared/log.js';
import { monitorLineReason, NetworkWatch, type MonitorProcess } from './network-watch.js';

const lines = (): { logger: ReturnType<typeof createLogger>; records: Array<Record<string, unknown>> } => {
  const records: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (text: string) => records.push(JSON.parse(text) as Record<string, unknown>) } });
  return { logger, records };
};

class FakeMonitor extends EventEmitter implements MonitorProcess {
  readonly stdout = new PassThrough();
  killed: NodeJS.Signals | undefined;
  kill(signal?: NodeJS.Signals): boolean {
    this.killed = signal ?? 'SIGTERM';
    return true;
  }
}

test('ip -o monitor lines: addresses (inet, inet6, deleted) and routes (default, deleted, local) apart', () => {
  const table: Array<[string, ReturnType<typeof monitorLineReason>]> = [
    ['3: up2    inet 10.220.2.2/24 scope global up2\\       valid_lft forever preferred_lft forever', 'address'],
    ['Deleted 2: up1    inet 10.220.1.2/24 scope global up1\\       valid_lft forever preferred_lft forever', 'address'],
    ['[ADDR]2: wlan0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever', 'address'],
    ['default via 10.220.2.1 dev up2 ', 'route'],
    ['Deleted default via 10.220.1.1 dev up1 ', 'route'],
    ['local 10.220.2.2 dev up2 table local proto kernel scope host src 10.220.2.2 ', 'route'],
    ['', undefined],
  ];
  for (const [line, reason] of table) assert.equal(monitorLineReason(line), reason, line);
});

test('a burst of lines is one change, an address change naming it', async () => {
  const child = new FakeMonitor();
  const watch = new NetworkWatch({ logger: lines().logger, start: () => child, quietMs: 20 });
  const changes: string[] = [];
  watch.on('change', (reason) => changes.push(reason));
  watch.start();
  child.stdout.write('default via 10.220.2.1 dev up2 \n');
  child.stdout.write('3: up2    inet 10.220.2.2/24 scope global up2\n');
  child.stdout.write('local 10.220.2.2 dev up2 table local proto kernel scope host src 10.220.2.2 \n');
  await once(watch, 'change');
  assert.deepEqual(changes, ['address']);
  child.stdout.write('Deleted default via 10.220.1.1 dev up1 \n');
  await once(watch, 'change');
  assert.deepEqual(changes, ['address', 'route']);
  watch.stop();
  assert.equal(child.killed, 'SIGTERM', 'stop() ends the monitor');
});

test('no ip on this system: said once in the log, no change ever', () => {
  const { logger, records } = lines();
  const child = new FakeMonitor();
  const watch = new NetworkWatch({ logger, start: () => child });
  watch.start();
  child.emit('error', Object.assign(new Error('spawn ip ENOENT'), { code: 'ENOENT' }));
  child.emit('exit', null);
  const said = records.filter((r) => /cannot be watched/.test(String(r['msg'])));
  assert.equal(said.length, 1);
  assert.equal(said[0]?.['reason'], 'spawn ip ENOENT');
  watch.stop();
});
