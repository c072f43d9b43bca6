/**
 * `--state redis://...` (issues 9 and 10): two gateways sharing one real Redis penalise a guesser
 * who spreads guesses across both as if there were one gateway; Redis killed mid-way never stops
 * authentication (local counting, one log line per gateway); Redis back, the penalties are shared
 * again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guessOnce, type GuessTarget } from '../support/guesser.js';
import { startGateway, type GatewayUser, type RunningGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { Peers, explainFailure, waitUntil } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startRedis } from '../support/redis.js';

const ALICE: GatewayUser = { name: 'alice', password: 'alice pass 1' };
const BOB: GatewayUser = { name: 'bob', password: 'bob pass 2' };
const SHARED = 'Penalties are shared through Redis.';
const LOST = 'The shared state (Redis) is unreachable; penalties are counted on this gateway alone until it returns.';
const BACK = 'The shared state (Redis) is back; penalties are shared again.';

test('two gateways sharing one Redis penalise a guesser spread across both; a lost Redis never stops sign-ins; a returning one shares again', { timeout: 180_000 }, async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const redis = peers.add(await startRedis());
  const runArgs = ['--state', redis.url, '--auth-max-failures', '4', '--auth-delay-after', '4', '--auth-block', '60', '--auth-delay-max', '0.1'];
  const start = (): Promise<RunningGateway> => startGateway({ users: [ALICE, BOB], restrictTo: [`127.0.0.1:${origin.httpsPort}`], runArgs });
  const gateways = [peers.add(await start()), peers.add(await start())] as const;
  const logCount = (gw: RunningGateway, msg: string): number => gw.program.records.filter((r) => r.msg === msg).length;
  await explainFailure(peers, async () => {
    for (const gw of gateways) await gw.program.waitForLog((r) => r.msg === SHARED, 15_000, SHARED);
    const on = (gw: RunningGateway, user: string): GuessTarget => ({ port: gw.port, hostname: gw.hostname, target: `127.0.0.1:${origin.httpsPort}`, user });
    const [a, b] = gateways;

    // Four wrong passwords, alternating: two on each gateway. Each alone is under its limit of 4.
    for (let i = 0; i < 4; i++) assert.equal((await guessOnce(on(i % 2 === 0 ? a : b, ALICE.name), `spread-${i}`)).status, 407);
    for (const gw of gateways) {
      const next = await guessOnce(on(gw, ALICE.name), `spread-next-${gw.port}`);
      assert.equal(next.status, 429, `gateway ${gw.port} refuses: the guesses were counted as one`);
      assert.ok(gw.accessLog().some((r) => r['code'] === 'PINHOLE_AUTH_THROTTLED'), 'the refusal is a plain 429 and the gateway logs why');
    }

    // Redis vanishes: sign-ins go on (counted locally), and each gateway says so once.
    await redis.kill();
    const signIn = async (gw: RunningGateway, user: GatewayUser): Promise<number> =>
      (await requestThroughProxy({
        proxy: { port: gw.port, tls: { servername: gw.hostname, rejectUnauthorized: false }, auth: { user: user.name, password: user.password } },
        url: `https://127.0.0.1:${origin.httpsPort}/hello`,
        timeoutMs: 20_000,
      })).status;
    assert.equal(await signIn(a, BOB), 200, 'a first sign-in with Redis gone');
    assert.equal(await signIn(b, BOB), 200);
    for (let i = 0; i < 3; i++) assert.equal((await guessOnce(on(a, 'carol'), `local-${i}`)).status, 407, 'wrong passwords are still answered');
    for (const gw of gateways) await gw.program.waitForLog((r) => r.msg === LOST, 15_000, LOST);
    assert.equal(await signIn(a, BOB), 200);
    for (const gw of gateways) assert.equal(logCount(gw, LOST), 1, 'one log line for the outage, however many reconnects');

    // Redis returns (empty): the gateways reconnect and share again.
    await redis.restart();
    for (const gw of gateways) await gw.program.waitForLog((r) => r.msg === BACK, 30_000, BACK);
    for (let i = 0; i < 4; i++) assert.equal((await guessOnce(on(i % 2 === 0 ? b : a, 'dave'), `again-${i}`)).status, 407);
    for (const gw of gateways) assert.equal((await guessOnce(on(gw, 'dave'), `again-next-${gw.port}`)).status, 429, `gateway ${gw.port} shares again`);
    for (const gw of gateways) assert.equal(logCount(gw, LOST), 1);
    await waitUntil(() => gateways.every((gw) => gw.program.running), 1_000, 'both gateways running');
  });
});
