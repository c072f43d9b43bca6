/**
 * A laptop moving between networks (issue 20), with `pinhole connect` in a client namespace that
 * has two uplinks to a gateway namespace (test/support/roaming-netns.ts):
 * (a) the default route moves to the other uplink mid-download, the old address gone: the download
 *     ends (a reset, not a hang) and succeeds when the application retries; new requests succeed;
 *     the log says "Network changed" and how long the reconnection took;
 * (b) the only uplink goes down for a few seconds and comes back: a request made meanwhile ends
 *     within its timeout, new requests succeed after;
 * (c) the client is stopped (SIGSTOP) and continued: the resume is noticed as a network change
 *     and the first new request succeeds; GNOME's proxy (a private dconf) still points at it;
 * (d) a captive portal takes the gateway's address: no credential reaches it, the log says "This
 *     network wants you to sign in first" with the portal's page, and the client reconnects by
 *     itself when the portal lets traffic through;
 * (e) a gateway name with IPv6 and IPv4, one family blackholed after connect: the client moves to
 *     the other.
 * Holding a link down or a process stopped for a few seconds is the scenario, not a wait; every
 * wait is for a log line or a request's end. The issue's 2 s targets (and its 30 s and 90 s) are
 * `npm run bench -- --only roaming`'s. Needs root (ip netns); every address is inside the namespaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDesktopSession, type DesktopSession } from '../support/desktop-session.js';
import { isAccessRecord } from '../support/gateway.js';
import { explainFailure, Peers, waitUntil, type LogRecord } from '../support/processes.js';
import { httpStatusOf, RoamingNetwork, type RoamingClient } from '../support/roaming-netns.js';

const HELLO = 'hello over the moving network';

const networkChanged = (r: LogRecord): boolean => typeof r.msg === 'string' && /^Network changed \(.*\), reconnecting\.$/.test(r.msg);
const reconnected = (r: LogRecord): boolean => typeof r.msg === 'string' && /^Network changed, reconnected in \d+ ms\.$/.test(r.msg);

/** A request that must succeed now, first time (no retry). */
const helloOk = async (network: RoamingNetwork, client: RoamingClient): Promise<void> => {
  const result = await network.curl(client, '/hello');
  assert.equal(result.code, 0, `curl: ${result.stderr}`);
  assert.equal(httpStatusOf(result), '200');
  assert.equal(result.stdout.split('\n')[0], HELLO);
};

/** Log records after the `index`-th one. */
const recordsSince = (client: RoamingClient, index: number): LogRecord[] => client.program.records.slice(index);

test('(a) the default route moves to the other uplink mid-download: the download ends and succeeds when retried, new requests succeed', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const network = await RoamingNetwork.start(peers);
  await explainFailure(peers, async () => {
    const client = await network.startClient();
    await helloOk(network, client);
    const before = client.program.records.length;
    // A 20 s download, under way before the move.
    const download = network.curl(client, '/slow?seconds=20', 60);
    await network.origin.waitForLog((r) => r.msg === 'slow download started', 20_000, 'the download under way');
    await network.useUplink('up2');
    await network.dropAddress('up1');
    await client.program.waitForLog((r) => networkChanged(r) && client.program.records.indexOf(r) >= before, 20_000, '"Network changed (...), reconnecting."');
    const done = await client.program.waitForLog((r) => reconnected(r) && client.program.records.indexOf(r) >= before, 20_000, '"Network changed, reconnected in N ms."');
    assert.equal(typeof done['tookMs'], 'number');
    await helloOk(network, client);
    // The download's session died with the old address: it ends, not at curl's 60 s but with a reset.
    const first = await download;
    assert.notEqual(first.code, 28, 'the download did not hang until its timeout');
    // Ended either way: the whole body, a cut body (a curl error), or, when the answer had not started
    // yet, the local proxy's own 502/504 for a request its tunnel could not carry.
    if (first.code === 0) assert.ok(['200', '502', '504'].includes(httpStatusOf(first)), `the interrupted download ended with ${httpStatusOf(first)}`);
    // The application retries: a full download over the new path.
    const again = await network.curl(client, '/slow?seconds=1', 30);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(httpStatusOf(again), '200');
    const sentences = recordsSince(client, before).filter((r) => networkChanged(r) || reconnected(r));
    assert.ok(sentences.length >= 2, 'one sentence for the change, one for its end');
  });
});

test('(b) the only uplink goes down and comes back: a request meanwhile ends within its timeout, new requests succeed after', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const network = await RoamingNetwork.start(peers);
  await explainFailure(peers, async () => {
    const client = await network.startClient();
    await helloOk(network, client);
    await network.setLink('up1', 'down');
    await client.program.waitForLog(networkChanged, 20_000, '"Network changed (...), reconnecting."');
    // The application's own timeout is 10 s; the proxy must answer before it (a refusal, not a hang).
    const during = await network.curl(client, '/hello', 10);
    assert.notEqual(during.code, 28, `a request while the link is down ended within its timeout: ${during.stderr}`);
    assert.notEqual(httpStatusOf(during), '200');
    const before = client.program.records.length;
    await network.setLink('up1', 'up');
    // The link's routes came back with it: the address's subnet; the default route is the DHCP client's job.
    await network.useUplink('up1');
    await client.program.waitForLog((r) => reconnected(r) && client.program.records.indexOf(r) >= before, 30_000, '"Network changed, reconnected in N ms." after the link came back');
    await helloOk(network, client);
  });
});

/** GNOME's proxy settings as `gsettings get` prints them. */
const gnomeProxy = async (session: DesktopSession): Promise<string> =>
  `${await session.gsettings('get', 'org.gnome.system.proxy', 'mode')} ${await session.gsettings('get', 'org.gnome.system.proxy.http', 'host')}:${await session.gsettings('get', 'org.gnome.system.proxy.http', 'port')}`;

test('(c) SIGSTOP and SIGCONT of the client: the resume is a network change, the first new request succeeds, GNOME still points at the local proxy', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const network = await RoamingNetwork.start(peers);
  const session = peers.add(await startDesktopSession({ name: 'roaming-resume', desktop: 'gnome' }));
  await explainFailure(peers, async () => {
    const client = await network.startClient(['--system-proxy'], 'pinhole-client', session.env);
    await client.program.waitForLog((r) => r.msg === 'The system proxy now points at Pinhole.', 30_000, 'the system proxy set');
    assert.equal(await gnomeProxy(session), `'manual' '127.0.0.1':${client.port}`);
    await helloOk(network, client);
    const pid = client.program.pid;
    assert.ok(pid !== undefined);
    const before = client.program.records.length;
    process.kill(pid, 'SIGSTOP');
    // Stopped for five seconds: the scenario (a laptop asleep), not a wait for anything.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    process.kill(pid, 'SIGCONT');
    const change = await client.program.waitForLog((r) => networkChanged(r) && client.program.records.indexOf(r) >= before, 20_000, 'the resume as a network change');
    assert.equal(change['reason'], 'resume');
    assert.ok(Number(change['suspendedMs']) >= 3_000, `suspended for ${String(change['suspendedMs'])} ms`);
    await helloOk(network, client);
    await client.program.waitForLog((r) => reconnected(r) && client.program.records.indexOf(r) >= before, 20_000, '"Network changed, reconnected in N ms." after the resume');
    assert.equal(await gnomeProxy(session), `'manual' '127.0.0.1':${client.port}`, 'the system proxy still points at the live local proxy');
  });
});

test('(d) a captive portal takes the gateway address: no credential sent, the portal sentence, reconnected by itself once it opens', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const network = await RoamingNetwork.start(peers, { portal: true });
  const portal = network.portal;
  assert.ok(portal);
  await explainFailure(peers, async () => {
    const client = await network.startClient(['--log-level', 'debug']);
    await helloOk(network, client);
    // The hotel network: the gateway's address answers from the portal.
    await network.useUplink('up3');
    const said = await client.program.waitForLog((r) => r['code'] === 'PINHOLE_CAPTIVE_PORTAL', 30_000, 'the portal sentence');
    assert.match(String(said.msg), /^This network wants you to sign in first: http:\/\/10\.220\.0\.1\/login\?from=pinhole-test$/);
    assert.equal(said['portal'], 'http://10.220.0.1/login?from=pinhole-test');
    await portal.waitForLog((r) => r.msg === 'portal tls connection', 10_000, 'the client tried TLS at the portal');
    const probes = portal.records.filter((r) => r.msg === 'portal http request');
    assert.ok(probes.length >= 1, 'the plain HTTP probe reached the portal');
    for (const probe of probes) {
      assert.equal(probe['authorization'], null);
      assert.equal(probe['proxyAuthorization'], null);
    }
    await client.program.waitForLog((r) => r['state'] === 'reconnecting', 10_000, 'the state: reconnecting');
    // Meanwhile a request is refused, not hung.
    const during = await network.curl(client, '/hello', 10);
    assert.notEqual(httpStatusOf(during), '200');
    // The user signs in: the portal lets traffic through to the real gateway.
    const before = client.program.records.length;
    await network.useUplink('up1');
    await client.program.waitForLog(
      (r) => client.program.records.indexOf(r) >= before && (r.msg === 'The network let Pinhole through: the connection to the gateway is back.' || reconnected(r)),
      30_000,
      'reconnected after the portal opened',
    );
    await helloOk(network, client);
    // Starting behind the portal: the command says where to sign in, not that TLS is being inspected.
    await network.useUplink('up3');
    const atStart = await network.failingClient();
    assert.notEqual(atStart.code, 0);
    assert.match(atStart.stderr, /This network wants you to sign in first\..* Sign in at http:\/\/10\.220\.0\.1\/login\?from=pinhole-test \(PINHOLE_CAPTIVE_PORTAL\)/);
    // Not one byte of ours inside TLS at the portal: the credential never left.
    assert.deepEqual(portal.records.filter((r) => r.msg === 'portal tls data'), [], 'nothing was written to the portal after TLS');
  });
});

test('(e) a gateway name with IPv6 and IPv4, the family in use blackholed after connect: the client moves to the other', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const network = await RoamingNetwork.start(peers, { dualStack: true });
  await explainFailure(peers, async () => {
    const client = await network.startClient();
    await helloOk(network, client);
    const access = (): LogRecord[] => network.gatewayProgram.records.filter(isAccessRecord);
    const first = await network.gatewayProgram.waitForLog(isAccessRecord, 10_000, 'the first tunnel in the access log');
    const family = familyOf(String(first['client']));
    // The gateway's answers to the client over that family are dropped from now on, silently.
    await network.blackholeFamily(family);
    const seen = access().length;
    await helloOk(network, client);
    const after = await waitUntil(() => access().slice(seen).find((r) => r['status'] === 200), 20_000, 'the request in the access log');
    assert.equal(familyOf(String(after['client'])), family === 4 ? 6 : 4, `the client moved from IPv${family} (${String(first['client'])} then ${String(after['client'])})`);
  });
});

/** 4 or 6, from an access record's client address (a dual-stack socket spells IPv4 as ::ffff:a.b.c.d). */
const familyOf = (client: string): 4 | 6 => (/^(::ffff:)?\d+\.\d+\.\d+\.\d+(:\d+)?$/.test(client) ? 4 : 6);
