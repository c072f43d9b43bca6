/**
 * A network change for one connection, over a transport the test drives: one sentence when it
 * happens and one when a live session is there again (with the time it took), the status saying
 * the same; a change the transport cannot survive yet waits for the gateway's 'up'. And the
 * captive portal in the reconnect: a pin failure behind a redirecting network is waited out with
 * the portal's page in the status, anything else stays the fatal error it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { ConnectionStatus } from '../connection-status.js';
import { Reconnect } from '../reconnect.js';
import type { Transport } from '../tunnel/transport.js';
import { Roaming } from './roaming.js';

class FakeTransport extends EventEmitter {
  readonly kind = 'h2' as const;
  next: Array<() => Promise<void>> = [];
  calls = 0;
  networkChanged(): Promise<void> {
    this.calls += 1;
    return (this.next.shift() ?? (() => Promise.resolve()))();
  }
  warm(): Promise<void> {
    return this.networkChanged();
  }
}

const setup = (findPortal?: () => Promise<string | undefined>) => {
  const records: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (text: string) => records.push(JSON.parse(text) as Record<string, unknown>) } });
  const transport = new FakeTransport();
  const status = new ConnectionStatus();
  status.set({ state: 'connected', gateway: 'gw.example.test', warnings: [] });
  let clock = 1_000;
  const reconnect = new Reconnect({ transport: transport as unknown as Transport, status, logger, backoff: { backoffMs: 60_000 }, ...(findPortal ? { findPortal, portalRetryMs: 60_000 } : {}) });
  const roaming = new Roaming({ transport: transport as unknown as Transport, status, logger, connection: reconnect, now: () => clock });
  const tick = (ms: number): void => {
    clock += ms;
  };
  const msgs = (): string[] => records.map((r) => String(r['msg']));
  const done = () => {
    roaming.stop();
    reconnect.stop();
  };
  return { records, transport, status, roaming, reconnect, tick, msgs, done };
};

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a route change: "Network changed (a route changed), reconnecting." then "reconnected in N ms", the status alike', async () => {
  const s = setup();
  let finish!: () => void;
  s.transport.next.push(() => new Promise<void>((resolve) => (finish = resolve)));
  s.roaming.changed('route');
  assert.deepEqual(s.status.current.network, { state: 'reconnecting', reason: 'route', at: 1_000 });
  // A burst: the address that came with the route is one more check after this one, not a second sentence now.
  s.roaming.changed('address');
  s.tick(420);
  finish();
  await settle();
  await settle();
  assert.equal(s.msgs().filter((m) => m === 'Network changed (a route changed), reconnecting.').length, 1);
  assert.ok(s.msgs().includes('Network changed, reconnected in 420 ms.'));
  assert.equal(s.transport.calls, 2, 'the burst got one more check');
  assert.equal(s.status.current.state, 'connected');
  s.done();
});

test('a change the gateway cannot be reached after: "cannot be reached on this network yet", reconnecting, then the time once it is up', async () => {
  const s = setup();
  s.transport.next.push(() => Promise.reject(new PinholeError('PINHOLE_GATEWAY_UNREACHABLE')));
  s.roaming.changed('address');
  await settle();
  await settle();
  assert.ok(s.msgs().includes('Network changed; the gateway cannot be reached on this network yet (PINHOLE_GATEWAY_UNREACHABLE).'));
  assert.equal(s.status.current.state, 'reconnecting');
  assert.equal(s.status.current.network?.state, 'waiting');
  s.tick(2_500);
  s.transport.emit('up');
  assert.ok(s.msgs().includes('Network changed, reconnected in 2500 ms.'));
  assert.equal(s.status.current.network?.tookMs, 2_500);
  assert.equal(s.status.current.state, 'connected');
  s.done();
});

test('a pin failure on a network whose plain HTTP is redirected: the portal sentence once, its page in the status, connected again when it opens', async () => {
  const portal = 'http://10.0.0.1/login';
  const s = setup(() => Promise.resolve(portal));
  const pin = new PinholeError('PINHOLE_TLS_PIN_MISMATCH');
  s.reconnect.lost(pin);
  await settle();
  s.reconnect.lost(pin);
  await settle();
  assert.equal(s.status.current.state, 'reconnecting');
  assert.equal(s.status.current.error?.code, 'PINHOLE_CAPTIVE_PORTAL');
  assert.match(s.status.current.error?.message ?? '', /^This network wants you to sign in first\./);
  assert.equal(s.status.current.portal, portal);
  assert.equal(s.msgs().filter((m) => m === `This network wants you to sign in first: ${portal}`).length, 1, 'said once');
  // The portal opens: the network change finds the gateway.
  s.roaming.changed('route');
  await settle();
  await settle();
  assert.equal(s.status.current.state, 'connected');
  assert.equal(s.status.current.portal, undefined);
  assert.ok(s.msgs().includes('The network let Pinhole through: the connection to the gateway is back.'));
  s.done();
});

test('a pin failure where plain HTTP is not redirected stays the fatal error it is', async () => {
  const s = setup(() => Promise.resolve(undefined));
  s.reconnect.lost(new PinholeError('PINHOLE_TLS_PIN_MISMATCH'));
  await settle();
  await settle();
  assert.equal(s.status.current.state, 'error');
  assert.equal(s.status.current.error?.code, 'PINHOLE_TLS_PIN_MISMATCH');
  assert.equal(s.status.current.portal, undefined);
  s.done();
});
