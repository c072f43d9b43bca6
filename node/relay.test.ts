/**
 * The one relay's close semantics over real TCP sockets on 127.0.0.1: each direction ends on its
 * own, an error or an early close tears both down, bytes are counted, a slow reader slows the writer.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { relay, type RelayResult } from './relay.js';

/** Two ends of one TCP connection, both half-open. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [[peer]] = await Promise.all([accepted, once(client, 'connect')]);
  server.close();
  return [client, peer];
}

const readAll = (s: Socket): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });

/** app <-> [near | relay | far] <-> destination */
async function relayed(): Promise<{ app: Socket; destination: Socket; result: Promise<RelayResult> }> {
  const [app, near] = await socketPair();
  const [far, destination] = await socketPair();
  const result = new Promise<RelayResult>((resolve) => relay(near, far, { done: resolve }));
  return { app, destination, result };
}

test('a request sent with a FIN still gets the whole answer (half-close from the application)', async () => {
  const { app, destination, result } = await relayed();
  const request = readAll(destination);
  app.end('GET / HTTP/1.0\r\n\r\n');
  assert.equal((await request).toString(), 'GET / HTTP/1.0\r\n\r\n');
  const answer = readAll(app);
  const body = Buffer.alloc(300_000, 0x61);
  destination.end(body);
  assert.equal((await answer).length, body.length);
  const done = await result;
  assert.equal(done.error, undefined);
  assert.equal(done.bytesUp, 18);
  assert.equal(done.bytesDown, body.length);
});

test('the destination may finish first and still read what the application sends after', async () => {
  const { app, destination, result } = await relayed();
  const greeting = readAll(app);
  destination.end('hello\n');
  assert.equal((await greeting).toString(), 'hello\n');
  const rest = readAll(destination);
  app.end('late bytes');
  assert.equal((await rest).toString(), 'late bytes');
  const done = await result;
  assert.equal(done.error, undefined);
  assert.deepEqual([done.bytesUp, done.bytesDown], [10, 6]);
});

test('a reset on one side tears both down and reports the error', async () => {
  const { app, destination, result } = await relayed();
  app.write('x');
  await once(destination, 'data');
  app.resume();
  const appEnded = once(app, 'end');
  destination.resetAndDestroy();
  await appEnded;
  const done = await result;
  assert.ok(done.error !== undefined);
  assert.equal(done.bytesUp, 1);
});

test('a side that closes before both directions ended tears the other down', async () => {
  const [far, destination] = await socketPair();
  const stream = new PassThrough();
  const result = new Promise<RelayResult>((resolve) => relay(stream, far, { done: resolve }));
  destination.resume();
  const destinationEnded = once(destination, 'end');
  stream.destroy();
  await destinationEnded;
  assert.equal((await result).error?.name, 'Error');
  assert.ok(far.destroyed);
});

test('a destination that does not read slows the application down instead of buffering everything', async () => {
  const { app, destination, result } = await relayed();
  destination.pause();
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  // Write until the application's own socket pushes back: the relay stopped reading from it.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && written < 256 * 1024 * 1024) {
    written += chunk.length;
    if (!app.write(chunk)) {
      await Promise.race([once(app, 'drain'), new Promise((r) => setTimeout(r, 200))]);
      if (app.writableLength > 0) break;
    }
  }
  assert.ok(written < 256 * 1024 * 1024, 'the writer was never pushed back');
  const received = readAll(destination);
  app.end();
  destination.resume();
  assert.equal((await received).length, written);
  destination.end();
  assert.equal((await result).bytesUp, written);
});

test('holdDown keeps the answer from the application until it resolves, and a rejection tears both down', async () => {
  const [app, near] = await socketPair();
  const [far, destination] = await socketPair();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const result = new Promise<RelayResult>((resolve) => relay(near, far, { holdDown: gate, done: resolve }));
  let early = false;
  app.once('data', () => (early = true));
  destination.write('answer');
  await new Promise((r) => setImmediate(r));
  assert.equal(early, false);
  const got = once(app, 'data');
  release();
  assert.equal(String((await got)[0]), 'answer');
  app.end();
  destination.end();
  assert.equal((await result).error, undefined);

  const [app2, near2] = await socketPair();
  const [far2, destination2] = await socketPair();
  app2.resume();
  destination2.resume();
  const ends = Promise.all([once(app2, 'end'), once(destination2, 'end')]);
  const refused = new Promise<RelayResult>((resolve) => relay(near2, far2, { holdDown: Promise.reject(new Error('refused')), done: resolve }));
  await ends;
  assert.equal((await refused).error?.message, 'refused');
});

/**
 * The silence timeouts (issue 28), on mock timers: sockets stay real, the relay's one timer is
 * driven by hand, so no test waits for a wall-clock second.
 */
const timed = async (t: TestContext, timeouts: { idleTimeoutMs?: number; halfCloseTimeoutMs?: number }) => {
  const [app, near] = await socketPair();
  const [far, destination] = await socketPair();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let ended: RelayResult | undefined;
  const result = new Promise<RelayResult>((resolve) => relay(near, far, { ...timeouts, done: (r) => resolve((ended = r)) }));
  app.on('error', () => undefined);
  destination.on('error', () => undefined);
  return { app, destination, result, ended: () => ended };
};

/** Mock time forward in 10 ms steps (a single mock tick runs each timer at most once, so a re-armed timer needs steps). */
const advance = (t: TestContext, ms: number): void => {
  for (let left = ms; left > 0; left -= 10) t.mock.timers.tick(Math.min(10, left));
};

/** Lets the sockets' I/O callbacks run between two mock ticks. */
const ioTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a tunnel with no byte either way for the idle timeout is torn down on both sides', async (t) => {
  const { app, destination, result, ended } = await timed(t, { idleTimeoutMs: 1000 });
  const appEnded = once(app, 'end');
  const destinationEnded = once(destination, 'end');
  app.resume();
  destination.resume();
  advance(t, 999);
  await ioTurn();
  assert.equal(ended(), undefined, 'not before the timeout');
  advance(t, 251);
  const done = await result;
  assert.equal(done.timedOut, 'idle');
  assert.equal((done.error as { code?: string } | undefined)?.code, 'ERR_RELAY_TIMEOUT');
  await Promise.all([appEnded, destinationEnded]);
  app.destroy();
  destination.destroy();
});

test('bytes in either direction keep a tunnel open past its idle timeout', async (t) => {
  const { app, destination, result, ended } = await timed(t, { idleTimeoutMs: 1000 });
  for (let i = 0; i < 8; i += 1) {
    const sender = i % 2 === 0 ? app : destination;
    const receiver = i % 2 === 0 ? destination : app;
    const arrived = once(receiver, 'data');
    sender.write('x');
    await arrived;
    advance(t, 500);
    await ioTurn();
  }
  assert.equal(ended(), undefined, '4 s of tunnel, never 1 s of silence');
  advance(t, 1500);
  assert.equal((await result).timedOut, 'idle');
});

test('after the application half-closes, a silent destination gets the half-close timeout, not the idle one', async (t) => {
  const { app, destination, result, ended } = await timed(t, { idleTimeoutMs: 3_600_000, halfCloseTimeoutMs: 1000 });
  const fin = once(destination, 'end');
  destination.resume();
  app.resume();
  app.end();
  await fin;
  advance(t, 999);
  await ioTurn();
  assert.equal(ended(), undefined);
  advance(t, 251);
  const done = await result;
  assert.equal(done.timedOut, 'half-close');
  assert.equal(done.bytesUp, 0);
});

test('an answer that keeps flowing after the FIN is not cut by the half-close timeout', async (t) => {
  const { app, destination, result, ended } = await timed(t, { halfCloseTimeoutMs: 1000 });
  const fin = once(destination, 'end');
  destination.resume();
  app.end('request');
  await fin;
  const answer = readAll(app);
  for (let i = 0; i < 6; i += 1) {
    const arrived = once(app, 'data');
    destination.write('part');
    await arrived;
    advance(t, 750);
    await ioTurn();
  }
  assert.equal(ended(), undefined);
  destination.end();
  assert.equal((await answer).toString(), 'part'.repeat(6));
  const done = await result;
  assert.equal(done.error, undefined);
  assert.equal(done.timedOut, undefined);
});

test('without timeouts a silent tunnel stays open (the relay sets no timer)', async (t) => {
  const { app, destination, result, ended } = await timed(t, {});
  app.end();
  await once(destination, 'end');
  advance(t, 60_000);
  await ioTurn();
  assert.equal(ended(), undefined);
  destination.end();
  assert.equal((await result).error, undefined);
});

test('a side that had already ended before the relay started still forwards its FIN and gets the half-close timeout', { timeout: 10_000 }, async (t) => {
  // An HTTP/2 stream whose END_STREAM came, without data, while its CONNECT was being checked has
  // emitted 'end' already: the relay must not wait for another one.
  const [app, near] = await socketPair();
  const nearEnded = once(near, 'end');
  app.end();
  near.resume();
  await nearEnded;
  near.pause();
  const [far, destination] = await socketPair();
  destination.on('error', () => undefined);
  const fin = once(destination, 'end');
  destination.resume();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let ended: RelayResult | undefined;
  const result = new Promise<RelayResult>((resolve) => relay(near, far, { idleTimeoutMs: 3_600_000, halfCloseTimeoutMs: 1000, done: (r) => resolve((ended = r)) }));
  await fin;
  advance(t, 999);
  await ioTurn();
  assert.equal(ended, undefined);
  advance(t, 251);
  assert.equal((await result).timedOut, 'half-close');
});
