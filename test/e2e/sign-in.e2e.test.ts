/**
 * Issue 18, the client's side, with real programs: a real OpenID provider (oidc-provider on
 * loopback, its own keys), a real `pinhole-gateway run` trusting it with one-minute credentials,
 * a real GNOME Keyring, and `pinhole profile import` / `pinhole connect` signing in with a device
 * code. A link without any secret; the refresh token only in the keyring; tunnels carrying the
 * issued credential on every door; a long download alive across the credential's expiry; the
 * provider going down (the credential keeps working); refusals with the gateway's codes; and a
 * revoked credential that stops the client in one sentence.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, appendFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeLink, decodeLink } from '../../shared/link.js';
import { createLogger } from '../../shared/log.js';
import { PinholeError } from '../../shared/errors.js';
import { exchangeForCredential } from '../../main/identity/credential-exchange.js';
import { makeSelfSignedCertificate } from '../support/certs.js';
import { startDesktopSession, type DesktopSession } from '../support/desktop-session.js';
import { gatewayCommand, isAccessRecord, startGateway, type RunningGateway } from '../support/gateway.js';
import { SIGN_IN_CLIENT_ID, startIdp, type IdpUser, type RunningIdp } from '../support/oidc-provider.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program, waitUntil } from '../support/processes.js';
import { openTunnel, requestThroughProxy } from '../support/proxy-requests.js';

const ALICE: IdpUser = { id: 'alice', email: 'alice@example.com' };
/** The shortest credential the gateway issues: renewal happens within the test. */
const LIFETIME_S = 60;

const filesUnder = async (dir: string): Promise<string[]> => {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
};

const signInGateway = (peers: Peers, idp: RunningIdp, origin: Origin): Promise<RunningGateway> =>
  startGateway({
    restrictTo: [`127.0.0.1:${origin.httpPort}`, `127.0.0.1:${origin.httpsPort}`],
    runArgs: ['--credential-lifetime', String(LIFETIME_S)],
    prepare: async (dir) => {
      await gatewayCommand(['credential-keys', 'rotate', '--file', join(dir, 'credential-keys')]);
      await appendFile(join(dir, 'gateway.yaml'), ['identity:', '  issuers:', `    - issuer: ${idp.issuer}`, `      audience: ${SIGN_IN_CLIENT_ID}`, '      allowedDomains: [example.com]', ''].join('\n'));
    },
  }).then((gateway) => peers.add(gateway));

const signInLink = (gateway: RunningGateway, issuer: string): string =>
  encodeLink({ name: 'Corp', endpoints: [`127.0.0.1:${gateway.port}`], serverName: gateway.hostname, pin: gateway.fingerprint, signIn: { issuer, clientId: SIGN_IN_CLIENT_ID } });

/** Runs `program` until it shows a device code, confirms it at the provider as `user`, and gives the code. */
const confirmDeviceCode = async (program: Program, idp: RunningIdp, user: IdpUser): Promise<string> => {
  const line = await program.waitForLine((l) => /enter the code [A-Z]{4}-[A-Z]{4}/.test(l.text), 60_000, 'the device code');
  const code = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(line.text)?.[1] ?? '';
  assert.ok(await idp.approve(code, user), 'the provider knows the code shown');
  return code;
};

const startConnect = async (peers: Peers, session: DesktopSession, args: string[]): Promise<{ program: Program; port: number }> => {
  const program = peers.watch(new Program(pinholeBin, { name: `pinhole connect ${args.join(' ')}`, args: ['connect', ...args, '--listen', '127.0.0.1:0', '--log-format', 'json'], env: session.env }));
  peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });
  const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 90_000, 'the listening line'));
  return { program, port };
};

test('sign-in with a device code: no password in the link or on disk, the refresh token in the keyring, tunnels on every door carry the issued credential, renewal keeps a long download alive across its expiry, and the provider going down leaves the credential working', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const idp = await startIdp([ALICE]);
  peers.defer(() => idp.close());
  const origin = peers.add(await startOrigin());
  const gateway = await signInGateway(peers, idp, origin);
  const link = signInLink(gateway, idp.issuer);
  const session = peers.add(await startDesktopSession({ name: 'sign-in', keyring: true }));

  await explainFailure(peers, async () => {
    const payload = decodeLink(link);
    assert.equal(payload.secret, undefined, 'the link carries no secret');
    assert.equal(payload.user, undefined);

    // 1. Import: the device code in the terminal, confirmed at the provider; the profile stores who signed in.
    const importing = peers.watch(new Program(pinholeBin, { name: 'pinhole profile import', args: ['profile', 'import', link, '--name', 'Corp'], env: session.env }));
    await confirmDeviceCode(importing, idp, ALICE);
    await waitUntil(() => importing.status, 60_000, 'the import to finish');
    assert.equal(importing.status?.code, 0, importing.transcript());
    assert.match(importing.stdout, /Imported profile "Corp" .*signed in as alice@example\.com; the sign-in is kept in the GNOME Keyring .*no password is stored/);

    // The refresh token is in the keyring (read back through Pinhole's own store), and in no file.
    const read = await session.run(process.execPath, [
      '--import',
      'tsx',
      '-e',
      "const { ProfileStore } = await import('./main/profiles/store.ts'); const { openSecretStore } = await import('./main/keychain/keychain.ts'); const p = new ProfileStore().require('Corp'); const s = await openSecretStore({}); process.stdout.write(JSON.stringify({ profile: p, token: await s.get(p.secretRef), where: s.location }));",
    ]);
    const stored = JSON.parse(read.stdout) as { profile: { user: string; signIn?: { issuer: string } }; token: string | null; where: string };
    assert.equal(stored.profile.user, 'alice@example.com');
    assert.equal(stored.profile.signIn?.issuer, idp.issuer);
    assert.ok(stored.token !== null && stored.token.length >= 20, 'a refresh token is in the keyring');
    for (const file of await filesUnder(session.home)) {
      const text = await readFile(file);
      assert.ok(!text.includes(stored.token), `${file} must not hold the refresh token`);
      assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(text.toString('latin1')), `${file} must not hold a token or credential`);
    }

    // 2. Connect: the stored refresh token signs in without the user; tunnels go through with the credential.
    const { program, port } = await startConnect(peers, session, ['Corp']);
    const signedIn = await program.waitForLog((r) => r.msg === 'Signed in with the identity provider; the gateway issued a tunnel credential.');
    assert.equal(signedIn['user'], 'alice@example.com');
    assert.ok(!program.records.some((r) => typeof r['userCode'] === 'string'), 'no code was asked for: the refresh token signed in');
    const firstExpiry = Date.now() + Number(signedIn['validForS']) * 1000;
    const hello = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(hello.status, 200);
    const access = await gateway.program.waitForLog((r) => isAccessRecord(r) && r['user'] === 'alice@example.com', 15_000, 'the access line under the signed-in user');
    assert.equal(access['user'], 'alice@example.com');

    // The other doors carry the credential too (HTTP/1.1 CONNECT, WebSocket).
    for (const transport of ['h1', 'wss']) {
      const other = await startConnect(peers, session, ['Corp', '--transport', transport]);
      const res = await requestThroughProxy({ proxy: { port: other.port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
      assert.equal(res.status, 200, `${transport}: ${res.body.toString()}`);
      await other.program.stop('SIGTERM', 15_000);
    }

    // 3. A long download across the credential's expiry: started now, held by flow control, finished after a renewal and the first credential's end.
    // Far more than the buffers on the way hold, so the gateway's relay is still running (held by flow control) when the credential expires.
    const size = 128 * 1024 * 1024;
    const download = await openTunnel({ proxy: { port }, target: `127.0.0.1:${origin.httpPort}` });
    assert.equal(download.status, 200);
    let received = 0;
    download.socket.on('data', (chunk: Buffer) => (received += chunk.length));
    const ended = new Promise<void>((resolve, reject) => {
      download.socket.once('end', () => resolve());
      download.socket.once('error', reject);
    });
    download.socket.write(`GET /bytes/${size} HTTP/1.0\r\nHost: origin\r\n\r\n`);
    await waitUntil(() => received > 0, 15_000, 'the first bytes of the download');
    download.socket.pause();
    await program.waitForLog((r) => r.msg === 'The tunnel credential was renewed; open tunnels carry on and new ones use the new credential.', LIFETIME_S * 1000 + 60_000, 'the renewal');
    await waitUntil(() => Date.now() > firstExpiry + 2_000, LIFETIME_S * 1000 + 30_000, 'the first credential to expire');
    download.socket.resume();
    await ended;
    const relay = gateway.accessLog().find((r) => Number(r['bytesDown']) > size);
    assert.ok(relay === undefined || Date.parse(String(relay['time'])) > firstExpiry, 'the relay was still running at the first credential\'s expiry');
    assert.ok(received > size, `the whole download arrived (${received} bytes for ${size}); the gateway's access lines: ${JSON.stringify(gateway.accessLog().filter((r) => Number(r['bytesDown']) > 1_000_000))}; the client's last lines: ${program.transcript().slice(-3000)}`);
    const after = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(after.status, 200, 'a new tunnel after the first credential expired carries the renewed one');

    // 4. The provider goes down: the renewal fails and says so, the credential keeps working until it expires.
    await idp.close();
    const failed = await program.waitForLog((r) => r['code'] === 'PINHOLE_SIGNIN_ISSUER_UNREACHABLE', LIFETIME_S * 1000 + 60_000, 'the failed renewal');
    assert.match(String(failed.msg), /could not be renewed .*keeps working until it expires/);
    const during = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(during.status, 200, 'the credential still works while the provider is down');
    assert.deepEqual(await program.stop('SIGTERM', 15_000), { code: 0, signal: null });
  });
});

test('refusals: a forged, expired or wrong-audience token is refused by the gateway with its Pinhole-Error code; a sign-in while the provider is down says it is unreachable', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const idp = await startIdp([ALICE]);
  peers.defer(() => idp.close());
  const origin = peers.add(await startOrigin());
  const gateway = await signInGateway(peers, idp, origin);
  const logger = createLogger({ name: 'test', level: 'silent' });
  const target = { endpoints: [{ host: '127.0.0.1', port: gateway.port }], serverName: gateway.hostname, trust: { kind: 'pin' as const, pin: gateway.fingerprint }, logger };

  await explainFailure(peers, async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.issuer, aud: SIGN_IN_CLIENT_ID, sub: 'alice', email: 'alice@example.com', email_verified: true };
    const cases: [string, string, string][] = [
      ['expired', await idp.sign({ ...claims, iat: now - 7200, exp: now - 3600 }), 'PINHOLE_IDENTITY_TOKEN_EXPIRED'],
      ['forged', `${await idp.sign({ ...claims, exp: now + 600 })}`.slice(0, -8) + 'AAAAAAAA', 'PINHOLE_IDENTITY_TOKEN_INVALID'],
      ['wrong audience', await idp.sign({ ...claims, aud: 'another-app', exp: now + 600 }), 'PINHOLE_IDENTITY_AUDIENCE_MISMATCH'],
      // Clock skew beyond the gateway's tolerance: a token "issued" ten minutes from now.
      ['from a skewed clock', await idp.sign({ ...claims, iat: now + 600, nbf: now + 600, exp: now + 1200 }), 'PINHOLE_IDENTITY_TOKEN_INVALID'],
    ];
    for (const [what, token, code] of cases) {
      const error = await exchangeForCredential(target, token).then(
        () => assert.fail(`${what}: expected a refusal`),
        (err: unknown) => err as PinholeError,
      );
      assert.ok(error instanceof PinholeError, what);
      assert.equal(error.code, code, what);
    }
    // Within the tolerance (30 s), a skewed token is taken.
    const slightlyAhead = await exchangeForCredential(target, await idp.sign({ ...claims, iat: now + 10, exp: now + 600 }));
    assert.equal(slightlyAhead.user, 'alice@example.com');
    assert.ok(slightlyAhead.lifetimeMs > (LIFETIME_S - 5) * 1000 && slightlyAhead.lifetimeMs <= LIFETIME_S * 1000, `lifetime by the gateway's clock: ${slightlyAhead.lifetimeMs}`);

    // The provider down while signing in: one sentence, exit 1.
    const down = await startIdp([ALICE]);
    await down.close();
    const session = peers.add(await startDesktopSession({ name: 'sign-in-down', keyring: true }));
    const importing = peers.watch(new Program(pinholeBin, { name: 'pinhole profile import (provider down)', args: ['profile', 'import', signInLink(gateway, down.issuer)], env: session.env }));
    await waitUntil(() => importing.status, 60_000, 'the import to give up');
    assert.notEqual(importing.status?.code, 0);
    assert.match(importing.stderr, /The identity provider http:\/\/127\.0\.0\.1:\d+ could not be reached, so you cannot sign in now/);
    for (const file of await filesUnder(session.configDir)) assert.ok(!(await readFile(file, 'utf8')).includes(down.issuer), `${file}: no profile was stored`);
  });
});

test('a revoked credential: the client says so in one sentence, stops retrying and asks to sign in again', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const idp = await startIdp([ALICE]);
  peers.defer(() => idp.close());
  // A gateway that issues a credential and then answers every tunnel "revoked", as a fleet does once the operator revoked the user.
  const cert = await makeSelfSignedCertificate({ commonName: 'gw.revoking.test', altNames: ['gw.revoking.test'] });
  let connects = 0;
  const revoking = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const body = JSON.stringify({ credential: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl', expiresAt: new Date(Date.now() + 3600_000).toISOString(), user: 'alice@example.com' });
    res.writeHead(req.url === '/pinhole/credential' && req.method === 'POST' ? 200 : 404, { 'content-type': 'application/json' }).end(body);
  });
  revoking.on('connect', (_req, socket) => {
    connects += 1;
    socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nPinhole-Error: PINHOLE_CREDENTIAL_REVOKED\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => revoking.listen(0, '127.0.0.1', resolve));
  peers.defer(() => new Promise<void>((resolve) => revoking.close(() => resolve())));
  const link = encodeLink({ endpoints: [`127.0.0.1:${(revoking.address() as AddressInfo).port}`], serverName: 'gw.revoking.test', pin: cert.sha256, transport: 'h1', signIn: { issuer: idp.issuer, clientId: SIGN_IN_CLIENT_ID } });
  const session = peers.add(await startDesktopSession({ name: 'sign-in-revoked' }));

  await explainFailure(peers, async () => {
    // A link's sign-in: the device code in the log (and on the engine's state for the UI).
    const program = peers.watch(new Program(pinholeBin, { name: 'pinhole connect (revoked)', args: ['connect', link, '--listen', '127.0.0.1:0', '--log-format', 'json'], env: session.env }));
    peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });
    const prompt = await program.waitForLog((r) => typeof r['userCode'] === 'string', 60_000, 'the device code');
    assert.equal(prompt['verificationUri'], `${idp.issuer}/device`);
    assert.ok(await idp.approve(String(prompt['userCode']), ALICE));
    const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line'));

    const refused = await openTunnel({ proxy: { port }, target: '127.0.0.1:9' });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers['pinhole-error'], 'PINHOLE_CREDENTIAL_REVOKED');
    const said = await program.waitForLog((r) => r['code'] === 'PINHOLE_CREDENTIAL_REVOKED' && r['state'] === 'error', 15_000, 'the error state');
    assert.match(String(said.msg), /Your access to this gateway was revoked by its operator; Pinhole stops retrying\. Sign in again/);
    // Stopped retrying: the next request is answered by the client itself, the gateway sees nothing more.
    const again = await openTunnel({ proxy: { port }, target: '127.0.0.1:9' });
    assert.equal(again.headers['pinhole-error'], 'PINHOLE_CREDENTIAL_REVOKED');
    assert.equal(connects, 1, 'one CONNECT reached the gateway; none after the revocation');
  });
});
