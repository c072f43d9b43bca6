/**
 * The wss transport's half-close, seen on the wire: a scripted `ws` server plays the gateway, so
 * the test checks exactly what the client sends (BINARY bytes, then one TEXT `end`) and how it
 * takes what a gateway sends (its `end`, an early close, a message the protocol does not know).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { HALF_CLOSE_HEADER } from '../../shared/ws-tunnel.js';
import { makeSelfSignedCertificate } from '../../test/support/certs.js';
import { WssTransport } from './wss-transport.js';

/** A gateway stand-in that accepts every tunnel, echoes the half-close offer, and hands over each WebSocket. */
async function scriptedGateway(t: TestContext, onTunnel: (ws: WebSocket) => void): Promise<WssTransport> {
  const cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  const https = createHttpsServer({ cert: cert.cert, key: cert.key });
  const wss = new WebSocketServer({ server: https, perMessageDeflate: false });
  wss.on('headers', (headers, req) => {
    if (req.headers[HALF_CLOSE_HEADER.toLowerCase()] === '1') headers.push(`${HALF_CLOSE_HEADER}: 1`);
  });
  wss.on('connection', onTunnel);
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  const transport = new WssTransport({
    endpoints: [{ host: '127.0.0.1', port: (https.address() as AddressInfo).port }],
    serverName: 'gw.example.test',
    trust: { kind: 'pin', pin: cert.sha256 },
    user: 'alice',
    password: 'pw',
    logger: createLogger({ name: 'test', level: 'silent' }),
    poolSize: 0,
  });
  t.after(async () => {
    await transport.close();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    https.closeAllConnections();
    https.close();
  });
  return transport;
}

const target = { host: '127.0.0.1', port: 7 };

/** How the stream finished: its bytes, and the error it was destroyed with (or null for a clean end). */
const outcome = (stream: Duplex): Promise<{ text: string; ended: boolean; error: unknown }> =>
  new Promise((resolve) => {
    let text = '';
    let ended = false;
    let error: unknown = null;
    stream.on('data', (c: Buffer) => (text += c.toString()));
    stream.once('end', () => (ended = true));
    stream.once('error', (err) => (error = err));
    stream.once('close', () => resolve({ text, ended, error }));
  });

test('ending the tunnel stream sends the bytes as BINARY, then one TEXT end, and the gateway\'s end closes it with 1000', async (t) => {
  const seen: (string | Buffer)[] = [];
  let serverClose: Promise<unknown[]> | undefined;
  const transport = await scriptedGateway(t, (ws) => {
    serverClose = once(ws, 'close');
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      seen.push(isBinary ? data : data.toString());
      if (!isBinary) {
        ws.send(Buffer.from('the answer'), { binary: true });
        ws.send('end', { binary: false });
      }
    });
  });
  const stream = await transport.open(target);
  const result = outcome(stream);
  stream.write('a request, ');
  stream.end('then FIN');
  const { text, ended, error } = await result;
  assert.equal(text, 'the answer');
  assert.ok(ended, 'the readable side ended on the gateway\'s end');
  assert.equal(error, null);
  assert.equal(Buffer.concat(seen.filter((m): m is Buffer => Buffer.isBuffer(m))).toString(), 'a request, then FIN');
  assert.equal(seen.at(-1), 'end', 'one TEXT end, after the last bytes');
  assert.equal(seen.filter((m) => typeof m === 'string').length, 1);
  const [code] = await serverClose!;
  assert.equal(code, 1000);
});

test('a gateway that drops the WebSocket before its end is an error on the stream, not a clean end', async (t) => {
  const transport = await scriptedGateway(t, (ws) => {
    ws.send(Buffer.from('half an answer'), { binary: true }, () => ws.terminate());
  });
  const { ended, error } = await outcome(await transport.open(target));
  assert.equal(ended, false, 'no clean end for a cut-off answer');
  assert.ok(error instanceof PinholeError);
  assert.equal(error.code, 'PINHOLE_GATEWAY_CLOSED');
});

test('a TEXT message the protocol does not know tears the tunnel down', async (t) => {
  const transport = await scriptedGateway(t, (ws) => ws.send('hello', { binary: false }));
  const { ended, error } = await outcome(await transport.open(target));
  assert.equal(ended, false);
  assert.ok(error instanceof PinholeError);
  assert.equal(error.code, 'PINHOLE_GATEWAY_CLOSED');
  assert.match(error.message, /unknown message/);
});
