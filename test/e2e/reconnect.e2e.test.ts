/**
 * The gateway goes away while the client is connected (a redeploy, a reboot) and comes back on
 * the same address: the client says it is reconnecting, returns to connected by itself, and new
 * requests pass, without anybody touching it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClient } from '../support/client.js';
import { DEFAULT_USER, gatewayCommand } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { explainFailure, gatewayBin, listenPortOf, Peers, Program, type LogRecord } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';

for (const transport of ['h2', 'h1'] as const)
test(`when the gateway stops and starts again on the same port, the client (${transport}) reconnects by itself and new requests pass`, async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-reconnect-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await gatewayCommand(['init', '--dir', dir, '--hostname', 'gw.example.test']);
  await gatewayCommand(['user', 'add', DEFAULT_USER.name, '--dir', dir, '--password-stdin'], `${DEFAULT_USER.password}\n`);
  const runGateway = async (listen: string): Promise<{ program: Program; port: number }> => {
    const program = new Program(gatewayBin, { name: `pinhole-gateway ${listen}`, args: ['run', '--dir', dir, '--listen', listen, '--restrict-to', `127.0.0.1:${origin.httpsPort}`] });
    peers.add({ program, stop: () => program.stop('SIGTERM', 10_000) });
    const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The gateway is listening.', 20_000, 'the listening line'));
    return { program, port };
  };
  const first = await runGateway('127.0.0.1:0');
  const link = (await gatewayCommand(['provision', '--dir', dir, '--user', DEFAULT_USER.name, '--endpoint', `127.0.0.1:${first.port}`, '--transport', transport, '--password-stdin'], `${DEFAULT_USER.password}\n`)).stdout.trim();
  const client = peers.add(await startClient({ link }));
  const url = `https://127.0.0.1:${origin.httpsPort}/hello`;

  await explainFailure(peers, async () => {
    const before = await requestThroughProxy({ proxy: { port: client.port }, url, ca: origin.certificate.cert });
    assert.equal(before.status, 200);

    const states = (): Array<{ state: unknown; at: number }> =>
      client.program.lines.flatMap((line) => (line.json && typeof line.json.state === 'string' ? [{ state: line.json.state, at: line.at }] : []));
    assert.deepEqual(states().map((s) => s.state), ['connecting', 'connected']);

    assert.deepEqual(await first.program.stop('SIGTERM', 15_000), { code: 0, signal: null }, 'the gateway stops gracefully');
    const lost: LogRecord = await client.program.waitForLog((r) => r.state === 'reconnecting', 20_000, 'the reconnecting state');
    assert.equal(typeof lost.retryInS, 'number', 'the state says when the next try is');

    const second = await runGateway(`127.0.0.1:${first.port}`);
    assert.equal(second.port, first.port);
    // No request is sent until the client says it is connected again: it must come back by itself.
    const lostAt = client.program.lines.findIndex((line) => line.json?.state === 'reconnecting');
    await client.program.waitForLine((line) => line.json?.state === 'connected' && client.program.lines.indexOf(line) > lostAt, 60_000, 'connected again after reconnecting');
    const sequence = states().map((s) => s.state);
    assert.deepEqual(sequence.slice(0, 2), ['connecting', 'connected']);
    assert.equal(sequence.at(-1), 'connected');
    assert.ok(sequence.slice(2, -1).every((s) => s === 'reconnecting'), `only reconnecting in between: ${sequence.join(' -> ')}`);
    assert.ok(client.program.running, 'the client never exited');

    for (let i = 0; i < 3; i += 1) {
      const after = await requestThroughProxy({ proxy: { port: client.port }, url, ca: origin.certificate.cert });
      assert.equal(after.status, 200);
      assert.equal(after.body.toString(), 'hello from the origin\n');
    }
  });
});
