import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../shared/log.js';
import { RecordList, recordingDestination } from './record-list.js';

test('a wait on a record list ends on the push that makes it true, not before, and at once when already true', async () => {
  const list = new RecordList<number>();
  let settled = false;
  const two = list.until((all) => all.length >= 2, 'two records').then((all) => {
    settled = true;
    return all;
  });
  list.push(1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'one record is not two');
  list.push(2);
  assert.deepEqual(await two, [1, 2]);
  assert.equal(await list.first((n) => n === 1, 'the 1'), 1, 'an earlier record is found at once');
});

test('a wait that never comes true fails naming what it waited for and the last records', async () => {
  const list = new RecordList<string>();
  list.push('only this');
  await assert.rejects(list.first((s) => s === 'never', 'the never record', 50), /timed out after 50 ms waiting for the never record .*only this/);
});

test('a recording destination turns each pino line into a record a test can wait for', async () => {
  const { destination, lines } = recordingDestination();
  const logger = createLogger({ name: 'test', destination });
  const waited = lines.first((r) => r['msg'] === 'The thing happened.', 'the line');
  logger.info({ thing: 7 }, 'The thing happened.');
  assert.equal((await waited)['thing'], 7);
});
