/**
 * A test file that starts a gateway with two cluster workers and then hangs past its timeout,
 * without any cleanup of its own (a test whose cleanup never ran): processes.test.ts runs it
 * under `node --test` and checks that nothing it started is left behind. Not a *.test.ts file,
 * so `npm test` does not run it by itself.
 */
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startGateway } from './gateway.js';

// Started by a test of its own (no timeout): a busy machine may take long to start it; the next
// test's timeout is what this file is about.
test('starts a gateway with two workers', async () => {
  const gw = await startGateway({ runArgs: ['--workers', '2'] });
  const pid = gw.program.pid ?? 0;
  const workers = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  process.stdout.write(`${JSON.stringify({ msg: 'Started.', pids: [pid, ...workers.map(Number)] })}\n`);
});

test('hangs past its timeout', { timeout: 1_000 }, () => new Promise(() => undefined));
