/**
 * Issue 28.6: a Redis that hangs (SIGSTOP) instead of dying. The gateway's Redis calls sit behind
 * a circuit breaker: the first call that gets no answer in time opens it (one line), a new user's
 * first request and a password check then complete without waiting for Redis, and once Redis
 * answers again (SIGCONT) the gateway returns to it: penalties are shared with a second gateway.
 * The time figure (frozen / up <= 1.5x) is the bench's `--only redis`. Here the Redis deadline is
 * long (5 s), so waiting for Redis shows as seconds whatever the machine's load: bounds, not targets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guessOnce, type GuessTarget } from '../support/guesser.js';
import { startGateway, type GatewayUser, type RunningGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { Peers, explainFailure } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startRedis } from '../support/redis.js';

const USERS: GatewayUser[] = [
  { name: 'alice', password: 'alice pass 1' },
  { name: 'bob', password: 'bob pass 2' },
  { name: 'carol', password: 'carol pass 3' },
];
const SHARED = 'Penalties are shared through Redis.';
const BACK = 'The shared state (Redis) is back; penalties are shared again.';
const frozenLine = (port: number): string => `Redis at 127.0.0.1:${port} stopped answering; counting on this gateway alone until it answers again.`;
/** --state-timeout: any Redis call made while Redis is frozen costs this much. */
const DEADLINE_MS = 5_000;

test('a frozen Redis: the breaker opens once, first requests and password checks go on without it, and after SIGCONT the gateways share again', { timeout: 180_000 }, async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const redis = peers.add(await startRedis());
  // A stopped process takes no SIGTERM: wake it before it is stopped, whatever the test did.
  peers.defer(() => redis.program.signal('SIGCONT'));
  const runArgs = ['--state', redis.url, '--state-timeout', String(DEADLINE_MS / 1000), '--auth-max-failures', '4', '--auth-delay-after', '4', '--auth-block', '60', '--auth-delay-max', '0.1'];
  const restrictTo = [`127.0.0.1:${origin.httpsPort}`];
  const a = peers.add(await startGateway({ users: USERS, restrictTo, runArgs }));
  const b = peers.add(await startGateway({ sameDirAs: a, restrictTo, runArgs }));
  const gateways = [a, b] as const;
  const FROZEN = frozenLine(redis.port);
  await explainFailure(peers, async () => {
    for (const gw of gateways) await gw.program.waitForLog((r) => r.msg === SHARED, 15_000, SHARED);
    const firstRequest = async (gw: RunningGateway, user: GatewayUser): Promise<{ status: number; ms: number }> => {
      const started = Date.now();
      const { status } = await requestThroughProxy({
        proxy: { port: gw.port, tls: { servername: gw.hostname, rejectUnauthorized: false }, auth: { user: user.name, password: user.password } },
        url: `https://127.0.0.1:${origin.httpsPort}/hello`,
        timeoutMs: 20_000,
      });
      return { status, ms: Date.now() - started };
    };
    const on = (gw: RunningGateway, user: string): GuessTarget => ({ port: gw.port, hostname: gw.hostname, target: `127.0.0.1:${origin.httpsPort}`, user });
    assert.equal((await firstRequest(a, USERS[0] as GatewayUser)).status, 200, 'with Redis up');

    redis.program.signal('SIGSTOP');
    const bob = await firstRequest(a, USERS[1] as GatewayUser);
    assert.equal(bob.status, 200, "a new user's first request with Redis frozen");
    // The first call that gets no answer opens the breaker: one deadline, not one per Redis call.
    assert.ok(bob.ms < 2 * DEADLINE_MS, `it waited for Redis once at most (${bob.ms} ms)`);
    await a.program.waitForLog((r) => r.msg === FROZEN, 15_000, FROZEN);
    const carol = await firstRequest(a, USERS[2] as GatewayUser);
    assert.equal(carol.status, 200);
    assert.ok(carol.ms < DEADLINE_MS, `the breaker is open: no Redis call at all (${carol.ms} ms)`);
    for (let i = 0; i < 3; i++) {
      const guess = await guessOnce(on(a, 'mallory'), `frozen-${i}`);
      assert.equal(guess.status, 407, 'a password check is answered');
      assert.ok(guess.ms < DEADLINE_MS, `a password check did not wait for Redis (${guess.ms} ms)`);
    }
    assert.equal(a.program.records.filter((r) => r.msg === FROZEN).length, 1, 'one line for the outage');
    assert.equal(redis.program.running, true, 'Redis was frozen, not dead');

    redis.program.signal('SIGCONT');
    await a.program.waitForLog((r) => r.msg === BACK, 30_000, BACK);
    // Four wrong passwords for dave, two on each gateway: counted as one in Redis.
    for (let i = 0; i < 4; i++) assert.equal((await guessOnce(on(i % 2 === 0 ? a : b, 'dave'), `again-${i}`)).status, 407);
    for (const gw of gateways) assert.equal((await guessOnce(on(gw, 'dave'), `again-next-${gw.port}`)).status, 429, `gateway ${gw.port} shares again`);
    assert.equal(a.program.records.filter((r) => r.msg === FROZEN).length, 1);
  });
});
