/**
 * `bin/pinhole connect` as a user runs it: flags and a password on stdin, a JSON line saying where
 * the proxy listens, a request through it, and a clean exit on SIGTERM; bad input gets one line
 * and exit 2.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeLink } from '../../shared/link.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../../test/support/certs.js';
import { startOrigin, type Origin } from '../../test/support/origin.js';
import { Program, listenPortOf, pinholeBin } from '../../test/support/processes.js';
import { requestThroughProxy } from '../../test/support/proxy-requests.js';
import { startConnectServer, type ConnectServer } from '../../test/support/connect-server.js';

let origin: Origin;
let cert: TestCertificate;
let server: ConnectServer;

before(async () => {
  origin = await startOrigin();
  cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  server = await startConnectServer({ cert: cert.cert, key: cert.key, user: 'alice', password: 'pw 1' });
});
after(async () => {
  await server.stop();
  await origin.stop();
});

const listening = async (program: Program): Promise<number> =>
  listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 20_000, 'the listening line'));

test('pinhole connect --server ... --password-stdin --pin serves requests and exits 0 on SIGTERM', async () => {
  const program = new Program(pinholeBin, {
    args: ['connect', '--server', `127.0.0.1:${server.port}`, '--server-name', 'gw.example.test', '--user', 'alice', '--password-stdin', '--pin', cert.sha256, '--listen', '127.0.0.1:0'],
    stdin: 'pw 1\n',
  });
  try {
    const port = await listening(program);
    const res = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello` });
    assert.equal(res.status, 200);
    const exit = await program.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.ok(!program.stdout.includes('pw 1'), 'the password is never logged');
  } finally {
    await program.stop('SIGKILL');
  }
});

test('pinhole connect LINK uses the pin, user and secret from the link', async () => {
  const link = encodeLink({ endpoints: [`127.0.0.1:${server.port}`], serverName: 'gw.example.test', pin: cert.sha256, user: 'alice', secret: 'pw 1', transport: 'h2' });
  const program = new Program(pinholeBin, { args: ['connect', link, '--listen', '127.0.0.1:0'] });
  try {
    const port = await listening(program);
    const res = await requestThroughProxy({ proxy: { port }, url: `http://127.0.0.1:${origin.httpPort}/hello` });
    assert.equal(res.status, 200);
    assert.ok(!program.stdout.includes(link), 'the link (it holds the secret) is never logged');
    assert.equal((await program.stop('SIGINT')).code, 0);
  } finally {
    await program.stop('SIGKILL');
  }
});

const badInput: Array<[string, string[], RegExp]> = [
  ['a link cut in half', ['connect', 'pinhole://v1/eyJlbmRwb2ludHMiOlsi'], /cut off|not a valid/],
  ['--server without a trust choice', ['connect', '--server', '127.0.0.1:1', '--user', 'a', '--password-stdin'], /exactly one of --pin/],
  ['a malformed pin', ['connect', '--server', '127.0.0.1:1', '--user', 'a', '--password-stdin', '--pin', 'xyz'], /64 hex digits/],
  ['an unknown option', ['connect', '--frobnicate'], /frobnicate/],
  ['a non-loopback listen address and no --allow-from', ['connect', 'pinhole://v1/x', '--listen', '0.0.0.0:8080'], /reachable from the network, so it needs --allow-from/],
  ['an --allow-from that is not a CIDR', ['connect', 'pinhole://v1/x', '--listen', '0.0.0.0:8080', '--allow-from', '10.0.0.0/99'], /allow-from/],
];

for (const [story, args, message] of badInput) {
  test(`pinhole connect with ${story} prints one clear line and exits 2`, async () => {
    const program = new Program(pinholeBin, { args, stdin: 'pw\n' });
    const exit = await program.exited;
    assert.equal(exit.code, 2);
    assert.match(program.stderr, message);
    assert.ok(!program.stderr.includes('    at '), 'no stack trace');
  });
}

test('pinhole with a command not in this build says so and exits 2', async () => {
  const program = new Program(pinholeBin, { args: ['frobnicate'] });
  assert.equal((await program.exited).code, 2);
  assert.match(program.stderr, /unknown command/);
});
