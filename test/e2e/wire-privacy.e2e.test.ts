/**
 * What a firewall between the user's machine and the gateway sees: a relay records every byte in
 * both directions. It must see TLS to the gateway's one name and nothing else readable: no target
 * host or address, no path or header of the application's request, no user name, no password.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClientHello } from '../../gateway/sniff/client-hello.js';
import { isAccessRecord } from '../support/gateway.js';
import { explainFailure, Peers } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startRecordingRelay, type RecordingRelay } from '../support/relay.js';
import { startOrigin } from '../support/origin.js';
import { startPinholeStack } from '../support/stack.js';

const user = { name: 'wiretap-canary-user', password: 'Pw-canary-9f3e1c7a' };

test('the wire between client and gateway shows only TLS to the gateway name: no target, path, header, user or password', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  await explainFailure(peers, async () => {
    const origin = peers.add(await startOrigin());
    let relay: RecordingRelay | undefined;
    const stack = await startPinholeStack(
      {
        origin,
        gateway: {
          users: [user],
          // `localhost` is a host name the gateway resolves from /etc/hosts, so a name goes on the wire too.
          restrictTo: [`127.0.0.1:${origin.httpsPort}`, `127.0.0.1:${origin.httpPort}`, `localhost:${origin.httpsPort}`],
        },
        via: async (gatewayPort) => {
          relay = peers.add(await startRecordingRelay({ target: { port: gatewayPort } }));
          return relay.port;
        },
      },
      peers,
    );
    assert.ok(relay);
    const secretPath = '/echo?path-canary=7c1d9e';
    const secretHeader = 'header-canary-4b8f2a';

    const overHttps = await requestThroughProxy({ proxy: stack.proxy, url: `https://127.0.0.1:${origin.httpsPort}${secretPath}`, headers: { 'x-canary': secretHeader } });
    assert.equal(overHttps.status, 200);
    assert.match(overHttps.body.toString(), new RegExp(secretHeader), 'the origin saw the header (so it really travelled)');

    const byName = await requestThroughProxy({ proxy: stack.proxy, url: `https://localhost:${origin.httpsPort}${secretPath}`, headers: { 'x-canary': secretHeader } });
    assert.equal(byName.status, 200);

    const overHttp = await requestThroughProxy({ proxy: stack.proxy, url: `http://127.0.0.1:${origin.httpPort}${secretPath}`, headers: { 'x-canary': secretHeader } });
    assert.equal(overHttp.status, 200);
    assert.match(overHttp.body.toString(), /path-canary=7c1d9e/, 'the plain HTTP request reached the origin with its path');

    // The gateway logs a tunnel when it ends: once the three are logged, their last bytes (the
    // client's end of each stream) have crossed the relay too.
    await stack.gateway.program.waitForLogs(isAccessRecord, 3, 15_000, 'the three tunnels in the access log');

    assert.ok(relay.connections.length >= 1, 'the client went through the relay');
    const first = relay.connections[0];
    assert.ok(first);
    const firstBytes = relay.bytes(first, 'up');
    assert.equal(firstBytes[0], 0x16, 'the first record on the wire is a TLS handshake record');
    const parsed = parseClientHello(firstBytes);
    assert.equal(parsed.kind, 'hello', `the first bytes are a complete ClientHello (${JSON.stringify(parsed)})`);
    if (parsed.kind === 'hello') assert.equal(parsed.hello.serverName, 'gw.example.test', 'SNI is the gateway name, never a target');
    for (const connection of relay.connections) {
      const up = relay.bytes(connection, 'up');
      if (up.length > 0) assert.equal(up[0], 0x16, `connection ${connection.id} starts with TLS too`);
      const hello = parseClientHello(up);
      if (hello.kind === 'hello') assert.equal(hello.hello.serverName, 'gw.example.test');
    }

    const total = relay.allStreams().reduce((n, b) => n + b.length, 0);
    assert.ok(total > 4000, `the relay recorded the traffic (${total} bytes)`);
    const secrets = [
      `127.0.0.1:${origin.httpsPort}`,
      `127.0.0.1:${origin.httpPort}`,
      'localhost',
      'path-canary',
      secretHeader,
      user.name,
      user.password,
      Buffer.from(`${user.name}:${user.password}`).toString('base64'),
      'hello from the origin',
      'x-canary',
    ];
    for (const stream of relay.allStreams()) {
      for (const secret of secrets) {
        assert.equal(stream.indexOf(secret), -1, `"${secret}" appears in the recorded bytes`);
        assert.equal(stream.indexOf(Buffer.from(secret, 'utf16le')), -1, `"${secret}" appears (UTF-16) in the recorded bytes`);
      }
    }
  });
});
