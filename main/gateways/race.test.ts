/**
 * The racing dial against real listeners on loopback (a hung endpoint, a refused port, TLS servers
 * with the right and the wrong certificate), and its timing rules with fake timers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import type { Endpoint, Trust } from '../../shared/profile.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../../test/support/certs.js';
import { refusedPort, startHungEndpoint, type HungEndpoint } from '../../test/support/hung-endpoint.js';
import { waitUntil } from '../../test/support/processes.js';
import { dialVerifiedTls } from '../../test/support/verified-tls.js';
import { raceDial, type DialOne } from './race.js';

const NAME = 'gw.example.test';
let cert: TestCertificate;
let otherCert: TestCertificate;
let good: TlsServer;
let impostor: TlsServer;
let hung: HungEndpoint;
let goodConnections = 0;

const listenTls = async (c: TestCertificate, onSecure: () => void = () => undefined): Promise<TlsServer> => {
  const server = createTlsServer({ cert: c.cert, key: c.key }, (socket) => {
    onSecure();
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
};
const portOf = (server: TlsServer): number => (server.address() as AddressInfo).port;
const at = (port: number): Endpoint => ({ host: '127.0.0.1', port });

before(async () => {
  cert = await makeSelfSignedCertificate({ commonName: NAME, altNames: [NAME] });
  otherCert = await makeSelfSignedCertificate({ commonName: NAME, altNames: [NAME] });
  good = await listenTls(cert, () => (goodConnections += 1));
  impostor = await listenTls(otherCert);
  hung = await startHungEndpoint();
});
after(async () => {
  await hung.stop();
  await Promise.all([new Promise((r) => good.close(r)), new Promise((r) => impostor.close(r))]);
});

/** TCP + TLS + pin check for one endpoint, abandoned when the signal aborts: what dial.ts does per endpoint. */
const dialPinned =
  (trust: Trust): DialOne<TLSSocket> =>
  (endpoint, signal) =>
    dialVerifiedTls(endpoint, { serverName: NAME, trust, signal });

const pinned = (): DialOne<TLSSocket> => dialPinned({ kind: 'pin', pin: cert.sha256 });

test('a hung first endpoint costs the stagger, not the 10 s timeout: the second answers in about 250 ms, and the hung attempt is closed', async () => {
  const acceptedBefore = hung.accepted();
  const started = performance.now();
  const won = await raceDial([at(hung.port), at(portOf(good))], pinned(), { staggerMs: 250 });
  const took = performance.now() - started;
  try {
    assert.equal(won.index, 1);
    assert.equal(won.endpoint.port, portOf(good));
    assert.ok(took >= 240, `the second endpoint waited its turn (${took} ms)`);
    assert.ok(took < 5_000, `answered long before the 10 s timeout (${took} ms)`);
    assert.ok(won.handshakeMs <= won.elapsedMs, 'the handshake is part of the race');
    assert.equal(won.failures.length, 0, 'the hung endpoint had not failed yet: it lost');
    assert.equal(hung.accepted() - acceptedBefore, 1, 'the hung endpoint was dialled');
    await waitUntil(() => hung.open() === 0, 5_000, 'the losing attempt to close its connection');
  } finally {
    won.connection.destroy();
  }
});

test('a refused first endpoint hands the turn to the next at once, and the failure is named', async () => {
  const refused = await refusedPort();
  const started = performance.now();
  const won = await raceDial([at(refused), at(portOf(good))], pinned(), { staggerMs: 60_000 });
  const took = performance.now() - started;
  try {
    assert.equal(won.index, 1);
    assert.ok(took < 30_000, `the next attempt started on the refusal, not after the 60 s stagger (${took} ms)`);
    assert.equal(won.failures.length, 1);
    assert.equal(won.failures[0]?.endpoint, `127.0.0.1:${refused}`);
    assert.equal(won.failures[0]?.code, 'PINHOLE_GATEWAY_UNREACHABLE');
  } finally {
    won.connection.destroy();
  }
});

test('a preferred endpoint that answers within the stagger wins alone: the next is never dialled', async () => {
  const attempts: number[] = [];
  const acceptedBefore = hung.accepted();
  const won = await raceDial([at(portOf(good)), at(hung.port)], pinned(), { staggerMs: 5_000, onAttempt: (_e, i) => attempts.push(i) });
  won.connection.destroy();
  assert.equal(won.index, 0);
  assert.deepEqual(attempts, [0]);
  assert.equal(hung.accepted(), acceptedBefore);
});

test('when every endpoint fails, one error names each of them, and a pin mismatch (a TLS-inspecting firewall) names the whole', async () => {
  const refused = await refusedPort();
  const endpoints = [at(refused), at(hung.port), at(portOf(impostor))];
  await assert.rejects(raceDial(endpoints, pinned(), { staggerMs: 50, attemptTimeoutMs: 600 }), (err: unknown) => {
    assert.ok(err instanceof PinholeError, 'a PinholeError');
    assert.equal(err.code, 'PINHOLE_TLS_PIN_MISMATCH');
    for (const e of endpoints) assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${e.port}`));
    const failures = err.details?.['failures'] as Array<{ endpoint: string; code: string }>;
    assert.deepEqual(failures.map((f) => f.code).sort(), ['PINHOLE_GATEWAY_TIMEOUT', 'PINHOLE_GATEWAY_UNREACHABLE', 'PINHOLE_TLS_PIN_MISMATCH']);
    return true;
  });
});

test('without a certificate problem, the aggregate error takes the timeout and still lists both endpoints', async () => {
  const refused = await refusedPort();
  await assert.rejects(raceDial([at(hung.port), at(refused)], pinned(), { staggerMs: 50, attemptTimeoutMs: 400 }), (err: unknown) => {
    assert.ok(err instanceof PinholeError, 'a PinholeError');
    assert.equal(err.code, 'PINHOLE_GATEWAY_TIMEOUT');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${hung.port}.*127\\.0\\.0\\.1:${refused}|127\\.0\\.0\\.1:${refused}.*127\\.0\\.0\\.1:${hung.port}`));
    return true;
  });
});

test('an empty endpoint list rejects with a sentence, not a hang', async () => {
  await assert.rejects(raceDial([], pinned()), (err: unknown) => err instanceof PinholeError && /no gateway endpoint/i.test(err.message));
});

/** A dial whose outcome the test decides, recording when each attempt started and whether it was aborted. */
const scripted = () => {
  const attempts: Array<{ endpoint: Endpoint; signal: AbortSignal; resolve: (c: { id: number; destroyed: boolean; destroy(): void }) => void; reject: (e: unknown) => void; at: number }> = [];
  const waiters: Array<() => void> = [];
  const dial: DialOne<{ id: number; destroyed: boolean; destroy(): void }> = (endpoint, signal) =>
    new Promise((resolve, reject) => {
      attempts.push({ endpoint, signal, resolve, reject, at: Date.now() });
      for (const wake of waiters.splice(0)) wake();
    });
  /** Resolves once `count` attempts have started. */
  const started = async (count: number): Promise<void> => {
    while (attempts.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const connection = (id: number) => ({
    id,
    destroyed: false,
    destroy() {
      this.destroyed = true;
    },
  });
  return { attempts, dial, connection, started };
};

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

test('the stagger is exact: the next attempt starts at 250 ms, the third at 500 ms, and the winner is never aborted', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { attempts, dial, connection } = scripted();
  const race = raceDial([at(1), at(2), at(3)], dial, { staggerMs: 250 });
  assert.equal(attempts.length, 1);
  t.mock.timers.tick(249);
  assert.equal(attempts.length, 1);
  t.mock.timers.tick(1);
  assert.equal(attempts.length, 2);
  t.mock.timers.tick(250);
  assert.equal(attempts.length, 3);
  assert.deepEqual(attempts.map((a) => a.at), [0, 250, 500]);
  const winner = connection(2);
  attempts[1]?.resolve(winner);
  const won = await race;
  assert.equal(won.connection, winner);
  assert.equal(attempts[1]?.signal.aborted, false, 'the winner keeps its connection');
  assert.equal(attempts[0]?.signal.aborted, true);
  assert.equal(attempts[2]?.signal.aborted, true);
  // A loser that completes anyway (its dial ignored the abort) is destroyed, not leaked.
  const late = connection(3);
  attempts[2]?.resolve(late);
  await flush();
  assert.equal(late.destroyed, true);
  assert.equal(winner.destroyed, false);
});

test('a failure starts the next attempt at once and restarts the stagger from there', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { attempts, dial, connection } = scripted();
  const race = raceDial([at(1), at(2), at(3)], dial, { staggerMs: 250 });
  t.mock.timers.tick(100);
  attempts[0]?.reject(new PinholeError('PINHOLE_GATEWAY_UNREACHABLE'));
  await flush();
  assert.equal(attempts.length, 2);
  assert.equal(attempts[1]?.at, 100);
  t.mock.timers.tick(249);
  assert.equal(attempts.length, 2);
  t.mock.timers.tick(1);
  assert.equal(attempts.length, 3);
  attempts[2]?.resolve(connection(3));
  const won = await race;
  assert.equal(won.index, 2);
  assert.deepEqual(won.failures.map((f) => f.endpoint), ['127.0.0.1:1']);
});

test('an attempt that ignores its signal is timed out by the race, and the timeout passes the turn on', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { attempts, dial, connection } = scripted();
  const race = raceDial([at(1), at(2)], dial, { staggerMs: 10_000, attemptTimeoutMs: 1_000 });
  t.mock.timers.tick(1_000);
  await flush();
  assert.equal(attempts.length, 2, 'the timeout started the next endpoint before the stagger');
  attempts[1]?.resolve(connection(2));
  const won = await race;
  assert.equal(won.failures[0]?.code, 'PINHOLE_GATEWAY_TIMEOUT');
});

test("the caller's signal stops every attempt and rejects with NOT_CONNECTED", async () => {
  const { attempts, dial, started } = scripted();
  const controller = new AbortController();
  const race = raceDial([at(1), at(2)], dial, { staggerMs: 0, signal: controller.signal });
  await started(2);
  assert.equal(attempts.length, 2);
  controller.abort();
  await assert.rejects(race, (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_NOT_CONNECTED');
  assert.ok(attempts.every((a) => a.signal.aborted));
  await assert.rejects(raceDial([at(1)], dial, { signal: AbortSignal.abort() }), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_NOT_CONNECTED');
});


