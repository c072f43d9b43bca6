import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Peers, explainFailure, runCommand } from './processes.js';
import { startOrigin } from './origin.js';
import { startSeedCloud, startStunnelClient } from './seed.js';

const user = { name: 'test', password: 'qY8kd0Cf' };

test('the seed stack as written (stunnel client -> stunnel server -> squid with basic auth) carries curl to the origin', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  await explainFailure(peers, async () => {
    const origin = peers.add(await startOrigin());
    const cloud = peers.add(await startSeedCloud({ users: [user], connectPorts: [origin.httpsPort] }));
    peers.watch(cloud.squid.program);
    peers.watch(cloud.stunnel.program);
    const client = peers.add(await startStunnelClient({ connect: cloud.port }));
    const ok = await runCommand('curl', {
      args: ['-sS', '-k', '--max-time', '20', '-x', `http://${user.name}:${user.password}@127.0.0.1:${client.port}`, `https://127.0.0.1:${origin.httpsPort}/hello`],
    });
    assert.equal(ok.stdout, 'hello from the origin', ok.stderr);
    const plain = await runCommand('curl', {
      args: ['-sS', '--max-time', '20', '-x', `http://${user.name}:${user.password}@127.0.0.1:${client.port}`, `http://127.0.0.1:${origin.httpPort}/hello`],
    });
    assert.equal(plain.stdout, 'hello from the origin', plain.stderr);
    const refused = await runCommand('curl', {
      args: ['-sS', '-k', '--max-time', '20', '-x', `http://${user.name}:wrong@127.0.0.1:${client.port}`, `https://127.0.0.1:${origin.httpsPort}/hello`],
    });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /407/);
  });
});
