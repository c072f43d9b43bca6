/** The warm pool over real TCP connections: single-flight warming, deferred refill, idle drop and refill, stale retry, one failure event. */
import assert from 'node:assert/strict';
import { once, type EventEmitter } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { TlsPool } from './tls-pool.js';

const accepted: Socket[] = [];
let server: Server;
let port = 0;
const ready = (async () => {
  server = createServer((s) => accepted.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
})();
after(() => {
  for (const s of accepted) s.destroy();
  server.close();
});

let dials = 0;
let lastDialled: Socket | undefined;
const dial = async (): Promise<Socket> => {
  await ready;
  dials++;
  const s = connect({ port, host: '127.0.0.1' });
  await once(s, 'connect');
  lastDialled = s;
  return s;
};
/** Resolves once `cond()` holds, checked now and on each `event` of `emitter`. */
const until = (emitter: EventEmitter, event: string, cond: () => boolean, what: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cond()) return;
      emitter.off(event, check);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      emitter.off(event, check);
      reject(new Error(`timed out waiting for ${what}`));
    }, 15_000);
    emitter.on(event, check);
    check();
  });
/** The server's end of the connection dialled last. */
const serverSideOfLast = async (): Promise<Socket> => {
  const find = (): Socket | undefined => accepted.find((a) => a.remotePort === lastDialled?.localPort);
  await until(server, 'connection', () => find() !== undefined, 'the accept');
  return find()!;
};
const closed = (socket: Socket): Promise<unknown> => (socket.closed ? Promise.resolve() : once(socket, 'close'));

test('warming is single-flight and the pool fills to its size', async () => {
  dials = 0;
  const pool = new TlsPool<Socket>({ dial, size: 2 });
  await Promise.all([pool.warm(), pool.warm(), pool.warm()]);
  await until(pool, 'parked', () => pool.idleConnections === 2, 'two warm connections');
  assert.equal(dials, 2);
  const { pooled } = await pool.take();
  assert.equal(pooled, true);
  await until(pool, 'parked', () => pool.idleConnections === 2, 'the refill');
  pool.close();
});

test('a take that leaves a warm connection refills a moment later (its handshake keeps off the tunnel just taken); one that empties the pool refills at once', async () => {
  let started = 0;
  const pool = new TlsPool<Socket>({
    dial: () => {
      started++;
      return dial();
    },
    size: 2,
    refillDelayMs: 60_000,
  });
  await pool.warm();
  await until(pool, 'parked', () => pool.idleConnections === 2, 'two warm connections');
  const before = started;
  const first = await pool.take();
  assert.equal(first.pooled, true);
  assert.equal(started, before, 'one warm connection is left: no dial yet');
  const second = await pool.take();
  assert.equal(second.pooled, true);
  assert.equal(started, before + 2, 'the pool is empty: both refills start at once');
  first.socket.destroy();
  second.socket.destroy();
  pool.close();
});

test('an idle connection the server closes is dropped and replaced', async () => {
  const pool = new TlsPool<Socket>({ dial, size: 1 });
  await pool.warm();
  const before = dials;
  (await serverSideOfLast()).end();
  await until(pool, 'parked', () => dials > before && pool.idleConnections === 1, 'a replacement');
  pool.close();
});

test('a connection idle longer than the idle age is not used', async () => {
  const pool = new TlsPool<Socket>({ dial, size: 1, maxIdleMs: 1 });
  await pool.warm();
  // Not a wait for an event: the connection's age passing the 1 ms idle age is the behaviour (a lower bound).
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(pool.idleConnections, 0);
  const { pooled, socket } = await pool.take();
  assert.equal(pooled, false);
  socket.destroy();
  pool.close();
});

test('use() retries once on a fresh connection when a pooled one was stale', async () => {
  const pool = new TlsPool<Socket>({ dial, size: 1 });
  await pool.warm();
  const seen: boolean[] = [];
  const result = await pool.use(
    async (socket) => {
      seen.push(seen.length === 0);
      socket.destroy();
      if (seen.length === 1) throw Object.assign(new Error('stale'), { code: 'STALE' });
      return 'ok';
    },
    (err) => (err as { code?: string }).code === 'STALE',
  );
  assert.equal(result, 'ok');
  assert.equal(seen.length, 2);
  pool.close();
});

test('use() with an answer deadline: a pooled connection that does not answer is dropped and the tunnel goes through a fresh one', async () => {
  const pool = new TlsPool<Socket>({ dial, size: 1 });
  await pool.warm();
  const used: Socket[] = [];
  const started = Date.now();
  const result = await pool.use(
    (socket) => {
      used.push(socket);
      // The first (pooled) connection's gateway is frozen: no answer ever, until it is dropped.
      if (used.length === 1) return new Promise<string>((_resolve, reject) => socket.once('close', () => reject(Object.assign(new Error('closed'), { code: 'STALE' }))));
      return Promise.resolve('answered on a fresh connection');
    },
    (err) => (err as { code?: string }).code === 'STALE',
    100,
  );
  assert.equal(result, 'answered on a fresh connection');
  assert.equal(used.length, 2, 'tried once more, not more');
  assert.ok(Date.now() - started >= 95, 'the fresh one only after the deadline');
  await closed(used[0]!);
  assert.ok(used[0]!.destroyed, 'the unanswering pooled connection dropped');
  assert.equal(used[1]!.destroyed, false, 'the winner is the caller\'s');
  used[1]!.destroy();
  pool.close();
});

test('use() with an answer deadline: a slow answer on the pooled connection still wins over the fresh one, which is closed', async () => {
  const pool = new TlsPool<Socket>({ dial, size: 1 });
  await pool.warm();
  const used: Socket[] = [];
  let releaseFirst: () => void = () => undefined;
  const result = await pool.use(
    (socket) => {
      used.push(socket);
      if (used.length === 1) return new Promise<string>((resolve) => (releaseFirst = () => resolve('slow but alive')));
      releaseFirst();
      return new Promise<string>((_resolve, reject) => socket.once('close', () => reject(new Error('closed'))));
    },
    () => false,
    50,
  );
  assert.equal(result, 'slow but alive');
  assert.equal(used.length, 2);
  await closed(used[1]!);
  assert.ok(used[1]!.destroyed, 'the fresh connection closed');
  assert.equal(used[0]!.destroyed, false);
  used[0]!.destroy();
  pool.close();
});

test('a failed refill is reported once per failure as refill-failed', async () => {
  let fail = false;
  const pool = new TlsPool<Socket>({ dial: () => (fail ? Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' })) : dial()), size: 1 });
  await pool.warm();
  fail = true;
  const failed = once(pool, 'refill-failed');
  (await serverSideOfLast()).end();
  const [err] = (await failed) as [Error & { code: string }];
  assert.equal(err.code, 'ECONNREFUSED');
  pool.close();
});
