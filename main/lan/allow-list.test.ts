import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { ConnectionGate, checkListen, isLoopbackHost, normaliseAddress, parseAllowFrom } from './allow-list.js';

const normalised: Array<[string, string]> = [
  ['192.168.1.5', '192.168.1.5'],
  ['::ffff:192.168.1.5', '192.168.1.5'],
  ['::FFFF:C0A8:0105', '192.168.1.5'],
  ['0:0:0:0:0:ffff:192.168.1.5', '192.168.1.5'],
  ['[::ffff:10.0.0.1]', '10.0.0.1'],
  ['FD00::1', 'fd00::1'],
  ['::1', '::1'],
  ['::192.168.1.5', '::192.168.1.5'],
  ['64:ff9b::c0a8:105', '64:ff9b::c0a8:105'],
];
for (const [input, expected] of normalised) {
  test(`source ${input} is compared as ${expected}`, () => assert.equal(normaliseAddress(input), expected));
}

const lists: Array<[string[], string, boolean]> = [
  [['192.168.52.0/24'], '192.168.52.204', true],
  [['192.168.52.0/24'], '::ffff:192.168.52.7', true],
  [['192.168.52.0/24'], '192.168.53.1', false],
  [['192.168.52.10'], '192.168.52.10', true],
  [['192.168.52.10'], '192.168.52.11', false],
  [['fd00::/8'], 'fd12:3456::1', true],
  [['fd00::/8'], 'fe80::1', false],
  [['::ffff:10.1.0.0/112'], '10.1.2.3', true],
  [['::ffff:10.1.0.0/112'], '10.2.0.1', false],
  [['0.0.0.0/0'], '8.8.8.8', true],
  [['0.0.0.0/0'], '2001:db8::1', false],
  [['10.0.0.0/8', '2001:db8::/32'], '2001:db8:1::5', true],
  [['10.0.0.0/8'], 'not-an-ip', false],
  [['10.0.0.0/8'], '', false],
];
for (const [entries, source, allowed] of lists) {
  test(`--allow-from ${entries.join(' ')}: ${source || '(no address)'} is ${allowed ? 'allowed' : 'refused'}`, () => {
    assert.equal(parseAllowFrom(entries).allows(source), allowed);
  });
}

const badEntries: Array<[string, RegExp]> = [
  ['', /not ADDRESS\[\/PREFIX\]/],
  ['10.0.0.0/8/1', /not ADDRESS/],
  ['lan', /not an IP address/],
  ['10.0.0.0/33', /not a prefix length \(0-32\)/],
  ['fd00::/129', /0-128/],
  ['10.0.0.0/x', /not a prefix length/],
  ['::ffff:10.0.0.0/64', /96 or more/],
  ['/24', /not ADDRESS/],
];
for (const [entry, why] of badEntries) {
  test(`--allow-from ${JSON.stringify(entry)} is refused with a reason`, () => {
    assert.throws(() => parseAllowFrom([entry]), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_USAGE' && why.test(err.message) && err.message.includes('CIDR'));
  });
}

test('loopback bind hosts', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.52.204', 'box.lan', '::2']) assert.ok(!isLoopbackHost(host), host);
});

test('a non-loopback --listen without --allow-from is refused with a sentence that says why; loopback needs none', () => {
  assert.equal(checkListen({ host: '127.0.0.1', port: 8080 }, []), undefined);
  for (const host of ['0.0.0.0', '192.168.52.204', '::']) {
    assert.throws(
      () => checkListen({ host, port: 3128 }, []),
      (err: unknown) =>
        err instanceof PinholeError && err.code === 'PINHOLE_LAN_ALLOW_LIST_REQUIRED' && /needs --allow-from/.test(err.message) && /anyone who can reach this machine/.test(err.message),
    );
  }
  assert.ok(checkListen({ host: '0.0.0.0', port: 3128 }, ['192.168.52.0/24'])?.allows('192.168.52.9'));
});

function logCapture(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ name: 'gate', destination }), lines };
}

test('on real sockets: a terminal outside the list is closed with nothing read, logged once; one inside gets through', async () => {
  const { logger, lines } = logCapture();
  const gate = new ConnectionGate(parseAllowFrom(['127.0.0.2/32']), { logger });
  const served: string[] = [];
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    if (!gate.admit(socket)) return;
    socket.resume();
    socket.once('data', (d: Buffer) => {
      served.push(d.toString());
      socket.end('welcome');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const attempt = async (localAddress: string): Promise<string> => {
    const socket: Socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\n\r\n');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    await once(socket, 'close');
    return got;
  };
  try {
    assert.equal(await attempt('127.0.0.1'), '');
    assert.equal(await attempt('127.0.0.1'), '');
    assert.equal(await attempt('127.0.0.2'), 'welcome');
    assert.deepEqual(served, ['GET / HTTP/1.1\r\n\r\n'], 'only the allowed terminal was read');
    assert.equal(gate.refused, 2);
    const refusals = lines.filter((l) => l.code === 'PINHOLE_LAN_SOURCE_REFUSED');
    assert.equal(refusals.length, 1, 'logged once per source');
    assert.equal(refusals[0]?.source, '127.0.0.1');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the once-per-source memory is bounded: the oldest source is forgotten and may be logged again', () => {
  const { logger, lines } = logCapture();
  const gate = new ConnectionGate(parseAllowFrom(['10.0.0.0/8']), { logger, maxRemembered: 2 });
  const fake = (remoteAddress: string) => ({ remoteAddress, destroy: () => undefined }) as unknown as Socket;
  for (const source of ['1.1.1.1', '2.2.2.2', '1.1.1.1', '3.3.3.3', '1.1.1.1']) gate.admit(fake(source));
  assert.deepEqual(
    lines.map((l) => l.source),
    ['1.1.1.1', '2.2.2.2', '3.3.3.3', '1.1.1.1'],
  );
  assert.equal(gate.refused, 5);
});
