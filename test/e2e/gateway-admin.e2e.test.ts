/**
 * The admin listener of `pinhole-gateway run --admin`: /healthz, /readyz turning 503 the moment a
 * drain starts (while the public port still takes connections for --drain-grace), and with
 * --workers one /metrics that sums every worker.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startGateway } from '../support/gateway.js';
import { adminGet, sampleOf } from '../support/fleet.js';
import { freePort, gatewayBin, runCommand } from '../support/processes.js';
import { tlsHandshake } from '../support/tls-session.js';

test('with --workers 2, the primary answers /metrics with every worker summed: 30 handshakes count 30 whichever worker took them', async (t) => {
  const adminPort = await freePort();
  const gateway = await startGateway({ runArgs: ['--workers', '2', '--admin', `127.0.0.1:${adminPort}`] });
  t.after(() => gateway.stop());
  await gateway.program.waitForLog((r) => r.msg === 'The admin listener is up (/metrics, /healthz, /readyz).', 15_000, 'the admin listener');
  for (let i = 0; i < 30; i++) await tlsHandshake({ port: gateway.port, servername: gateway.hostname });
  const deadline = Date.now() + 10_000;
  let text = '';
  let total = 0;
  while (Date.now() < deadline) {
    text = (await adminGet(adminPort, '/metrics')).body;
    total = sampleOf(text, 'pinhole_tls_handshakes_total', 'resumed="false"') + sampleOf(text, 'pinhole_tls_handshakes_total', 'resumed="true"');
    if (total >= 30) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(total, 30);
  assert.equal(sampleOf(text, 'pinhole_connections_total', 'route="gateway"'), 30);
  assert.equal(sampleOf(text, 'pinhole_tunnels_active'), 0);
  assert.match(text, /^process_resident_memory_bytes /m, 'the workers\' process metrics are summed in too');
  assert.equal((await adminGet(adminPort, '/readyz')).status, 200);
  assert.equal((await adminGet(adminPort, '/healthz')).status, 200);
});

test('SIGTERM: /readyz answers 503 at once, the public port still takes connections during --drain-grace, then the gateway exits 0', async (t) => {
  const adminPort = await freePort();
  const gateway = await startGateway({ runArgs: ['--admin', `127.0.0.1:${adminPort}`, '--drain-grace', '2'] });
  t.after(() => gateway.stop());
  assert.equal((await adminGet(adminPort, '/readyz')).status, 200);
  assert.equal((await adminGet(adminPort, '/nothing')).status, 404);
  gateway.program.signal('SIGTERM');
  await gateway.program.waitForLog((r) => r.msg?.startsWith('The gateway is draining') === true, 5_000, 'the draining line');
  const readyz = await adminGet(adminPort, '/readyz');
  assert.equal(readyz.status, 503);
  assert.equal((await adminGet(adminPort, '/healthz')).status, 200, 'alive while draining');
  const accepted = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: gateway.port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  assert.equal(accepted, true, 'new connections are still taken during the grace period');
  assert.equal((await tlsHandshake({ port: gateway.port, servername: gateway.hostname })).resumed, false, 'and served');
  const status = await gateway.program.exited;
  assert.equal(status.code, 0);
});

test('--admin on the public port, or a bad ticket-keys file, stops the start with one clear line (exit 2)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-admin-'));
  try {
    await runCommand(gatewayBin, { args: ['init', '--dir', dir, '--hostname', 'gw.example.test'] });
    const same = await runCommand(gatewayBin, { args: ['run', '--dir', dir, '--listen', '127.0.0.1:18443', '--admin', '127.0.0.1:18443'] });
    assert.equal(same.code, 2);
    assert.match(same.stderr, /--admin 127\.0\.0\.1:18443 uses the public port/);
    await writeFile(join(dir, 'keys'), 'short\n');
    const bad = await runCommand(gatewayBin, { args: ['run', '--dir', dir, '--listen', '127.0.0.1:0', '--ticket-keys', join(dir, 'keys')] });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /line 1: a key must be 48 bytes/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
