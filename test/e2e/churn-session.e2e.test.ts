/**
 * A churn of short tunnels must not cost the client its HTTP/2 session (issue 28, the churn
 * bench's "connection to the gateway was lost"). The gateway's nghttp2 answers RST_STREAM frames
 * beyond a burst of 1,000 at more than 33/s with GOAWAY(INTERNAL_ERROR) (the CVE-2023-44487
 * limit), which ends every tunnel on the session; so tunnels that end normally (a FIN each way)
 * or for silence (the half-close timeout, towards a server that never answers) must not end with
 * a reset from the client. Thousands of tunnels through one `pinhole connect` on h2 as fast as
 * 256 lanes open them; the client's log must show no lost session and no request that could
 * not be carried. Real processes on 127.0.0.1; every wait is for a condition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { requestThenFin, startFinOrigin, startSilentOrigin } from '../support/fin-origin.js';
import { startClientOf, type RunningClient } from '../support/client.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { explainFailure, Peers, waitUntil } from '../support/processes.js';
import { inLanes, tunnelTo } from '../support/tunnel-ends.js';

/** Well past the 1,000-reset burst: a client that resets its tunnels loses the session on the way. */
const TUNNELS = 3_000;
const LANES = 256;
const REQUEST = Buffer.from('hello\n');

const h2Client = (gateway: RunningGateway, extraArgs: string[]): Promise<RunningClient> =>
  startClientOf(gateway, { transport: 'h2', extraArgs });

/** The client's own account of trouble with its gateway session. */
const troubles = (client: RunningClient): string[] =>
  client.program.records.map((r) => String(r.msg ?? '')).filter((msg) => /connection to the gateway was lost|could not be carried|reconnecting/i.test(msg));

test(`${TUNNELS} tunnels that end with a FIN each way go through one h2 session: the client never loses it`, { timeout: 240_000 }, async (t) => {
  const peers = new Peers();
  const origin = await startFinOrigin(0);
  t.after(async () => {
    await peers.close();
    await origin.stop();
  });
  await explainFailure(peers, async () => {
    const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.port}`] }));
    const client = peers.add(await h2Client(gateway, []));
    const proxy = { port: client.port };
    const target = `127.0.0.1:${origin.port}`;
    // The first tunnel makes the destination known, so the rest start early (the path that reset).
    assert.deepEqual(await requestThenFin(proxy, target, REQUEST), origin.answerFor(REQUEST.length));
    const failures: string[] = [];
    await inLanes(TUNNELS, LANES, async () => {
      const answer = await requestThenFin(proxy, target, REQUEST, 60_000).catch((err: Error) => (failures.push(err.message), undefined));
      if (answer !== undefined && !answer.equals(origin.answerFor(REQUEST.length))) failures.push(`a wrong answer of ${answer.length} bytes`);
    });
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${TUNNELS} tunnels failed`);
    assert.deepEqual(troubles(client), []);
  });
});

test(`${TUNNELS} tunnels whose application sends a FIN to a silent server end by the half-close timeout: the client never loses its h2 session`, { timeout: 240_000 }, async (t) => {
  const peers = new Peers();
  const origin = await startSilentOrigin();
  t.after(async () => {
    await peers.close();
    await origin.stop();
  });
  await explainFailure(peers, async () => {
    // The same half-close timeout on both sides (as the defaults): the client sees each FIN first,
    // so its timeout is the first to run out.
    const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.port}`], runArgs: ['--half-close-timeout', '1'] }));
    const client = peers.add(await h2Client(gateway, ['--half-close-timeout', '1']));
    const proxy = { port: client.port };
    const apps: Socket[] = [];
    let resets = 0;
    const failures: string[] = [];
    await inLanes(TUNNELS, LANES, async () => {
      const socket = await tunnelTo(proxy, origin).catch((err: Error) => (failures.push(err.message), undefined));
      if (socket === undefined) return;
      socket.on('error', () => (resets += 1));
      socket.resume();
      socket.end(REQUEST);
      apps.push(socket);
    });
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${TUNNELS} tunnels failed`);
    await waitUntil(() => apps.every((s) => s.closed) || undefined, 120_000, 'every application to see its tunnel end').catch(() => undefined);
    assert.equal(apps.filter((s) => !s.closed).length, 0, 'applications whose tunnel never ended');
    assert.equal(resets, 0, 'applications whose tunnel was reset');
    assert.deepEqual(troubles(client), []);
  });
});
