import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../shared/log.js';
import { FleetWatch, parseGatewayFlag } from './fleet-watch.js';
import { labelOf, parsePrometheusText } from './prometheus-text.js';

const logger = createLogger({ name: 'test', level: 'silent' });

test('--gateway takes HOST:PORT or NAME=HOST:PORT (http or https), nothing else', () => {
  assert.deepEqual(parseGatewayFlag('127.0.0.1:9090'), { name: '127.0.0.1:9090', admin: 'http://127.0.0.1:9090' });
  assert.deepEqual(parseGatewayFlag('gw1=10.0.0.5:9090'), { name: 'gw1', admin: 'http://10.0.0.5:9090' });
  assert.deepEqual(parseGatewayFlag('gw2=https://[::1]:9443'), { name: 'gw2', admin: 'https://[::1]:9443' });
  for (const bad of ['gw1', 'gw1=host', 'http://h:1/metrics', 'a b:1']) assert.equal(parseGatewayFlag(bad), undefined, bad);
});

test('the Prometheus text reader keeps the wanted samples with their labels and reads a label back', () => {
  const text = ['# HELP x y', 'pinhole_tunnels_active 3', 'pinhole_tunnel_bytes_total{direction="up"} 10', 'pinhole_tunnel_bytes_total{direction="down"} 90', 'other_metric 1', 'pinhole_build_info{version="1.2.3"} 1', 'broken'].join('\n');
  const samples = parsePrometheusText(text, new Set(['pinhole_tunnels_active', 'pinhole_tunnel_bytes_total', 'pinhole_build_info']));
  assert.deepEqual([...samples], [
    ['pinhole_tunnels_active', 3],
    ['pinhole_tunnel_bytes_total{direction="up"}', 10],
    ['pinhole_tunnel_bytes_total{direction="down"}', 90],
    ['pinhole_build_info{version="1.2.3"}', 1],
  ]);
  assert.equal(labelOf(samples, 'pinhole_build_info', 'version'), '1.2.3');
});

test('each poll adds a point: bytes per second and new auth failures from the counters, a restarted gateway counted from zero, old points dropped', async () => {
  let bytes = 0;
  let failures = 0;
  const server = createServer((req, res) => {
    if (req.url === '/readyz') return void res.writeHead(200).end();
    if (req.url === '/sessions') return void res.writeHead(404).end();
    res.writeHead(200).end(`pinhole_tunnels_active 2\npinhole_tunnel_bytes_total{direction="up"} ${bytes}\npinhole_auth_failures_total ${failures}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const watch = new FleetWatch({ targets: [{ name: 'gw', admin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }], intervalMs: 60_000, timeoutMs: 2_000, logger, keepMs: 60_000 });
  try {
    await watch.poll();
    bytes = 5_000;
    failures = 3;
    await watch.poll();
    bytes = 100; // the gateway restarted
    failures = 0;
    await watch.poll();
    const [view] = watch.gateways();
    assert.equal(view?.answering, true);
    assert.equal(view?.tunnels, 2);
    assert.equal(view?.sessions, 'no');
    const points = view?.history ?? [];
    assert.equal(points.length, 3);
    assert.equal(points[0]?.bytesPerSecond, 0, 'the first point has nothing to compare with');
    assert.ok((points[1]?.bytesPerSecond ?? 0) > 0);
    assert.equal(points[1]?.authFailures, 3);
    assert.equal(points[2]?.authFailures, 0, 'a counter that went down starts again from zero, never negative');
    assert.ok((points[2]?.bytesPerSecond ?? -1) >= 0);
    for (const p of points) p.at -= 120_000; // as if these points were two minutes old
    await watch.poll();
    assert.equal(watch.gateways()[0]?.history.length, 1, 'points older than the kept span are dropped');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
