import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { createLogger } from '../shared/log.js';
import { init } from './cli/init.js';
import { loadConfig, type GatewayConfig } from './config.js';
import { Gateway } from './gateway.js';
import { tlsHandshake, type Handshake } from '../test/support/tls-session.js';
import { recordingDestination, type RecordList } from '../test/support/record-list.js';
import { formatTicketKeys, keyNameOf, parseTicketKeys, rotateTicketKeys, ticketKeyNameOf } from './ticket-keys.js';

const key = (): Buffer => randomBytes(48);

test('a ticket-keys file: base64 keys of 48 bytes one a line, comments and blank lines ignored; anything else names its line', () => {
  const [a, b] = [key(), key()];
  assert.deepEqual(parseTicketKeys(`# comment\n\n${a.toString('base64')}\r\n${b.toString('base64')}\n`), [a, b]);
  assert.throws(() => parseTicketKeys(`${a.toString('base64')}\n${randomBytes(32).toString('base64')}\n`), { code: 'PINHOLE_FILE_INVALID', message: /line 2: a key must be 48 bytes/ });
  assert.throws(() => parseTicketKeys('not base64 at all!\n'), { code: 'PINHOLE_FILE_INVALID', message: /line 1/ });
  assert.throws(() => parseTicketKeys('# only a comment\n'), { code: 'PINHOLE_FILE_INVALID', message: /holds no key/ });
});

test('rotate puts a new key first, keeps the older ones up to --keep, and writes the file for its owner only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-tk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ticket-keys');
  const [first] = await rotateTicketKeys(file);
  const second = await rotateTicketKeys(file);
  assert.equal(second.length, 2);
  assert.deepEqual(second[1], first);
  await rotateTicketKeys(file);
  const fourth = await rotateTicketKeys(file, 3);
  assert.equal(fourth.length, 3);
  assert.deepEqual(parseTicketKeys(await readFile(file, 'utf8')), fourth);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  await writeFile(file, 'garbage\n');
  await assert.rejects(rotateTicketKeys(file), { code: 'PINHOLE_FILE_INVALID' });
  assert.equal(await readFile(file, 'utf8'), 'garbage\n', 'a bad file is left as it was');
});

/** The bytes a real Node TLS client sends first, offering `session`. */
const clientHelloOffering = async (session: Buffer | undefined, maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<Buffer> => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hello = new Promise<Buffer>((resolve) => server.once('connection', (s: Socket) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))));
  const port = (server.address() as { port: number }).port;
  const client = tlsConnect({ host: '127.0.0.1', port, servername: 'gw.example.test', maxVersion, ...(session === undefined ? {} : { session }) });
  client.on('error', () => undefined);
  const bytes = await hello;
  client.destroy();
  server.close();
  return bytes;
};

async function gatewayPair(t: TestContext, files: string[]): Promise<{ config: GatewayConfig; gateways: Gateway[]; ports: number[]; logs: RecordList<Record<string, unknown>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-tk-gw-'));
  await init({ dir, hostname: 'gw.example.test', force: false });
  const config = loadConfig(dir, { listen: '127.0.0.1:0' });
  const { destination, lines: logs } = recordingDestination();
  const gateways = files.map((file) => new Gateway(config, { logger: createLogger({ name: 'test', level: 'info', destination }), ticketKeysFile: file }));
  const ports = await Promise.all(gateways.map(async (g) => (await g.listen()).port));
  t.after(async () => {
    await Promise.all(gateways.map((g) => g.close(0)));
    await rm(dir, { recursive: true, force: true });
  });
  return { config, gateways, ports, logs };
}

const handshake = (port: number, session?: Buffer, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<Handshake> =>
  tlsHandshake({ port, servername: 'gw.example.test', maxVersion, ...(session === undefined ? {} : { session }) });

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${version}: the ClientHello names the ticket's key, so the gateway can pick the key that decrypts it`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'pinhole-tk-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'keys');
    const keys = await rotateTicketKeys(file);
    const { ports } = await gatewayPair(t, [file]);
    assert.equal(ticketKeyNameOf(await clientHelloOffering(undefined, version)), undefined, 'a fresh hello offers no ticket');
    const { ticket } = await handshake(ports[0]!, undefined, version);
    assert.equal(ticketKeyNameOf(await clientHelloOffering(ticket, version)), keyNameOf(keys[0]!));
    assert.equal(ticketKeyNameOf(Buffer.from([0x16, 3, 1, 0, 200, 1, 0])), undefined, 'a cut-off hello gives no name');
  });
}

test('a ticket from one gateway resumes on another sharing the file, and still resumes after a rotation (older keys decrypt)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-tk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys');
  await rotateTicketKeys(file);
  const { gateways, ports } = await gatewayPair(t, [file, file]);
  const [a, b] = ports as [number, number];
  const first = await handshake(a);
  assert.equal(first.resumed, false);
  assert.equal((await handshake(b, first.ticket)).resumed, true, 'issued by A, resumed on B');

  await rotateTicketKeys(file);
  for (const g of gateways) g.reloadTicketKeys();
  assert.equal((await handshake(b, first.ticket)).resumed, true, 'a ticket under the previous key still resumes');
  const fresh = await handshake(a);
  assert.equal((await handshake(b, fresh.ticket)).resumed, true, 'a ticket under the new key resumes too');

  await writeFile(file, formatTicketKeys([key()]));
  for (const g of gateways) g.reloadTicketKeys();
  assert.equal((await handshake(b, first.ticket)).resumed, false, 'a key removed from the file no longer decrypts: a full handshake, not a failure');
  // The server counts a handshake when the client's Finished arrives, which may be just after the client is done.
  const counted = (): Promise<string> => gateways[1]!.metrics.registry.getSingleMetricAsString('pinhole_tls_handshakes_total');
  const deadline = Date.now() + 5_000;
  const allCounted = (text: string): boolean => /resumed="true"} 3\b/.test(text) && /resumed="false"} 1\b/.test(text);
  while (!allCounted(await counted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.match(await counted(), /resumed="true"} 3\b/);
  assert.match(await counted(), /resumed="false"} 1\b/);
});

test('the gateway picks up a changed ticket-keys file by itself', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-tk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys');
  const [old] = await rotateTicketKeys(file);
  const { gateways, logs } = await gatewayPair(t, [file]);
  const gateway = gateways[0]!;
  const reloaded = (all: readonly Record<string, unknown>[]): number => all.filter((r) => r['msg'] === 'The TLS session-ticket keys were reloaded.').length;
  const before = reloaded(logs.items);
  const [next] = await rotateTicketKeys(file);
  await logs.until((all) => reloaded(all) > before, 'the reload line after the file changed');
  assert.equal(keyNameOf(gateway.tls.getTicketKeys()), keyNameOf(next!));
  assert.notEqual(keyNameOf(next!), keyNameOf(old!));
});
