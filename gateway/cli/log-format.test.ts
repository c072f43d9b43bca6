/** `pinhole-gateway run --log-format human`: a person's lines; without it, into a pipe, JSON (every other test reads those). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Program, gatewayBin, runCommandOk } from '../../test/support/processes.js';

test('run --log-format human prints "[time] INFO: The gateway is listening. {fields}" and stops cleanly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-gw-logs-'));
  try {
    await runCommandOk(gatewayBin, { args: ['init', '--dir', dir, '--hostname', 'gw.example.test'] });
    const program = new Program(gatewayBin, { args: ['run', '--dir', dir, '--listen', '127.0.0.1:0', '--log-format', 'human'] });
    try {
      const line = await program.waitForLine((l) => l.stream === 'stdout' && l.text.includes('The gateway is listening.'), 20_000, 'the listening line');
      assert.match(line.text, /^\[\d\d:\d\d:\d\d\] INFO: The gateway is listening\. \{.*"listen":"127\.0\.0\.1:\d+"/);
      assert.equal(line.json, undefined, 'not JSON');
      assert.equal((await program.stop('SIGTERM')).code, 0);
    } finally {
      await program.stop('SIGKILL');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
