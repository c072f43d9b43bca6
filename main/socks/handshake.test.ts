import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import { TestPasswordCheck } from '../../test/support/password-check.js';
import { waitUntil } from '../../test/support/processes.js';
import { LocalUsers } from '../lan/local-users.js';
import { COMMAND, encodeGreeting, encodeRequest, encodeUserPass } from './codec.js';
import { socksHandshake, type SocksCommand, type SocksHandshakeOptions } from './handshake.js';

/** One server connection running the handshake; the client side is returned to drive it. */
async function pair(options: SocksHandshakeOptions = {}): Promise<{ client: Socket; result: Promise<SocksCommand>; server: Promise<Socket>; close: () => void }> {
  let resolveServer!: (s: Socket) => void;
  const server = new Promise<Socket>((r) => (resolveServer = r));
  let result!: Promise<SocksCommand>;
  const listener = createServer((socket) => {
    result = socksHandshake(socket, options);
    result.catch(() => undefined);
    resolveServer(socket);
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const client = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  const serverSocket = await server;
  return { client, result, server: Promise.resolve(serverSocket), close: () => (client.destroy(), serverSocket.destroy(), listener.close()) };
}

const collect = (socket: Socket): Buffer[] => {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return chunks;
};

test('a handshake written one byte at a time (every split point at once) yields the CONNECT, and the bytes after it stay on the socket', async () => {
  const users = new LocalUsers({ check: new TestPasswordCheck({ alice: 'pw' }) });
  const { client, result, server, close } = await pair({ users });
  const replies = collect(client);
  try {
    const bytes = Buffer.concat([encodeGreeting([0, 2]), encodeUserPass({ user: 'alice', password: 'pw' }), encodeRequest(COMMAND.connect, 'example.test', 443), Buffer.from('early')]);
    for (const byte of bytes) {
      client.write(Uint8Array.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await result, { kind: 'connect', host: 'example.test', port: 443, addressType: 'domain', user: 'alice' });
    const socket = await server;
    socket.resume();
    const [early] = (await once(socket, 'data')) as [Buffer];
    assert.equal(early.toString(), 'early');
    await waitUntil(() => Buffer.concat(replies).length >= 4, 5_000, 'the replies');
    assert.deepEqual([...Buffer.concat(replies)], [5, 2, 1, 0], 'method 0x02 chosen, then auth success');
  } finally {
    close();
  }
});

test('UDP ASSOCIATE is yielded only when offered', async () => {
  const { client, result, close } = await pair({ udp: true });
  try {
    client.write(Buffer.concat([encodeGreeting([0]), encodeRequest(COMMAND.udpAssociate, '0.0.0.0', 0)]));
    assert.deepEqual(await result, { kind: 'udp-associate', host: '0.0.0.0', port: 0, addressType: 'ipv4', user: undefined });
  } finally {
    close();
  }
});

const failures: Array<[string, SocksHandshakeOptions, (client: Socket) => unknown, string, number[]]> = [
  ['a client that stops half-way times out', { timeoutMs: 100 }, (c) => c.write(Uint8Array.of(5, 1)), 'PINHOLE_REQUEST_TIMEOUT', []],
  ['a client that closes half-way', {}, (c) => c.end(Uint8Array.of(5, 1, 0, 5, 1, 0, 3)), 'PINHOLE_SOCKS_MALFORMED', [5, 0]],
  [
    'an endless request is cut off',
    {},
    async (c) => {
      c.write(encodeGreeting([0]));
      await once(c, 'data');
      c.write(Buffer.concat([Uint8Array.of(5, 1, 0, 3, 255), Buffer.alloc(5000, 0x61)]));
    },
    'PINHOLE_SOCKS_MALFORMED',
    [5, 0],
  ],
  [
    'a wrong password gets status 0x01 and the close',
    { users: new LocalUsers({ check: new TestPasswordCheck({ alice: 'pw' }) }) },
    (c) => c.write(Buffer.concat([encodeGreeting([2]), encodeUserPass({ user: 'alice', password: 'no' })])),
    'PINHOLE_LOCAL_AUTH_REJECTED',
    [5, 2, 1, 1],
  ],
  ['no acceptable method gets 0xFF', { users: new LocalUsers({ check: new TestPasswordCheck({}) }) }, (c) => c.write(encodeGreeting([0])), 'PINHOLE_LOCAL_AUTH_MISSING', [5, 0xff]],
];
for (const [name, options, drive, code, answer] of failures) {
  test(`handshake refusal: ${name} (${code})`, async () => {
    const { client, result, close } = await pair(options);
    const replies = collect(client);
    try {
      await drive(client);
      await assert.rejects(result, (err: unknown) => err instanceof PinholeError && err.code === code);
      await once(client, 'close');
      assert.deepEqual([...Buffer.concat(replies)], answer);
    } finally {
      close();
    }
  });
}
