/**
 * The profile route inside the gateway's TLS, over HTTP/1.1 and HTTP/2 on one real server: the
 * user's document with a strong ETag, 304 when the client has it, HEAD, 405, a 401 for wrong
 * credentials and the web site's own answer for a request without any. And the document builder
 * from real certificate files: pins in rotation order, default endpoint, bad configuration.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2Connect, createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { PROFILE_DOCUMENT_PATH, ProfileDocumentSchema } from '../../shared/profile-document.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../../test/support/certs.js';
import { createProfileHandler, etagMatches, isProfileRequest, serveProfileRequest } from './handler.js';
import { buildProfileDocument, loadProfileSource, ProfileSettingsSchema, serializeProfileDocument, type ProfileSource } from './profile-document.js';

const NAME = 'gw.example.test';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ALICE = basic('alice', 'right');

let cert: TestCertificate;
let next: TestCertificate;
let server: Http2SecureServer;
let source: ProfileSource;
let port: number;

before(async () => {
  cert = await makeSelfSignedCertificate({ commonName: NAME, altNames: [NAME] });
  next = await makeSelfSignedCertificate({ commonName: NAME, altNames: [NAME] });
  source = {
    serverName: NAME,
    endpoints: ['gw1.example.test:443', 'gw2.example.test:443'],
    pins: [cert.sha256, next.sha256],
    transport: 'h2',
    domains: ['api.vendor.example'],
    refreshSeconds: 21_600,
  };
  const handler = createProfileHandler((user) => buildProfileDocument(source, user), createLogger({ name: 'test', level: 'silent' }));
  const authenticate = async (header: string | undefined): Promise<string> => {
    if (header === ALICE) return 'alice';
    throw new PinholeError('PINHOLE_AUTH_REJECTED');
  };
  const fallback = (_req: unknown, res: { writeHead: (s: number, h: Record<string, string>) => unknown; end: (b: string) => unknown }): void => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<h1>Not Found</h1>');
  };
  server = createSecureServer({ cert: cert.cert, key: cert.key, allowHTTP1: true }, (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (isProfileRequest(req)) void serveProfileRequest(req, res, { authenticate, handler, fallback });
    else fallback(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise((resolve) => server.close(resolve)));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const overH1 = (method: string, headers: Record<string, string>): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: NAME, path: PROFILE_DOCUMENT_PATH, method, headers, ca: cert.cert, checkServerIdentity: () => undefined, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });

const overH2 = async (method: string, headers: Record<string, string>): Promise<Answer> => {
  const session = h2Connect(`https://127.0.0.1:${port}`, { servername: NAME, ca: cert.cert, checkServerIdentity: () => undefined });
  try {
    const stream = session.request({ ':method': method, ':path': PROFILE_DOCUMENT_PATH, ...headers });
    const [head] = (await once(stream, 'response')) as [Record<string, string | string[] | undefined>];
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (body += c));
    await once(stream, 'end');
    return { status: Number(head[':status']), headers: head, body };
  } finally {
    session.close();
  }
};

for (const [proto, ask] of [['HTTP/1.1', overH1], ['HTTP/2', overH2]] as const) {
  test(`${proto}: the user gets its document with a strong ETag, and 304 when it already has it`, async () => {
    const first = await ask('GET', { authorization: ALICE });
    assert.equal(first.status, 200);
    assert.match(String(first.headers['content-type']), /^application\/json/);
    assert.equal(first.headers['cache-control'], 'private, no-cache');
    const doc = ProfileDocumentSchema.parse(JSON.parse(first.body));
    assert.equal(doc.user, 'alice');
    assert.deepEqual(doc.endpoints, ['gw1.example.test:443', 'gw2.example.test:443']);
    assert.deepEqual(doc.pins, [cert.sha256, next.sha256], 'the certificate in use, then the next one');
    const etag = String(first.headers['etag']);
    assert.match(etag, /^"[A-Za-z0-9_-]{32}"$/);
    const again = await ask('GET', { authorization: ALICE, 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers['etag'], etag);
    const weak = await ask('GET', { authorization: ALICE, 'if-none-match': `"other", W/${etag}` });
    assert.equal(weak.status, 304, 'a list with a weak form of our tag matches');
    const head = await ask('HEAD', { authorization: ALICE });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['etag'], etag);
  });

  test(`${proto}: the Proxy-Authorization the tunnel already sends is accepted too`, async () => {
    const answer = await ask('GET', { 'proxy-authorization': ALICE });
    assert.equal(answer.status, 200);
  });

  test(`${proto}: wrong credentials get a plain 401 (no code); none at all get the web site's answer`, async () => {
    const wrong = await ask('GET', { authorization: basic('alice', 'wrong') });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['pinhole-error'], undefined);
    assert.doesNotMatch(wrong.body, /pinhole/i);
    assert.match(String(wrong.headers['www-authenticate']), /^Basic realm=/);
    assert.doesNotMatch(wrong.body, /gw1\.example\.test/, 'nothing of the profile leaks');
    const none = await ask('GET', {});
    assert.equal(none.status, 404);
    assert.equal(none.body, '<h1>Not Found</h1>', 'indistinguishable from any other path of the web site');
  });

  test(`${proto}: a method other than GET or HEAD is refused with 405`, async () => {
    const answer = await ask('DELETE', { authorization: ALICE });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers['allow'], 'GET, HEAD');
  });
}

test('the ETag changes exactly when the document does', () => {
  const one = serializeProfileDocument(buildProfileDocument(source, 'alice'));
  assert.equal(serializeProfileDocument(buildProfileDocument(source, 'alice')).etag, one.etag);
  assert.notEqual(serializeProfileDocument(buildProfileDocument({ ...source, endpoints: [...source.endpoints, 'gw3.example.test:443'] }, 'alice')).etag, one.etag);
  assert.notEqual(serializeProfileDocument(buildProfileDocument(source, 'bob')).etag, one.etag);
});

test('If-None-Match: exact, weak, star, lists; never a partial match', () => {
  const rows: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['*', true],
    ['"x", "abc"', true],
    ['"ab"', false],
    ['abc', false],
  ];
  for (const [header, expected] of rows) assert.equal(etagMatches(header, '"abc"'), expected, String(header));
  assert.equal(isProfileRequest({ url: `${PROFILE_DOCUMENT_PATH}?v=1` }), true);
  assert.equal(isProfileRequest({ url: `http://gw.example.test${PROFILE_DOCUMENT_PATH}` }), false, 'an absolute-URI proxy request is not ours');
});

test('the source comes from the config: certificate pin, next certificate pin, endpoints, profile defaults', async () => {
  const config = { hostname: NAME, dir: cert.dir, certFile: cert.certPath, operatorCert: false };
  const nextFile = join(cert.dir, 'next-cert.pem');
  await writeFile(nextFile, next.cert);
  const settings = ProfileSettingsSchema.parse({ endpoints: ['gw1.example.test:443', '[2001:db8::1]:8443'], nextCert: 'next-cert.pem', profile: { domains: ['api.vendor.example'], refreshHours: 2 } });
  const loaded = loadProfileSource(config, settings);
  assert.deepEqual(loaded.pins, [cert.sha256, next.sha256]);
  assert.deepEqual(loaded.endpoints, ['gw1.example.test:443', '[2001:db8::1]:8443']);
  assert.equal(loaded.refreshSeconds, 7_200);
  assert.equal(loaded.transport, 'h2');
  const defaults = loadProfileSource(config, ProfileSettingsSchema.parse({}));
  assert.deepEqual(defaults.endpoints, [`${NAME}:443`], 'like provision: the hostname on 443');
  assert.deepEqual(defaults.pins, [cert.sha256]);
  assert.deepEqual(loadProfileSource({ ...config, operatorCert: true }, settings).pins, [], 'a CA-issued certificate is verified by name, not pinned');
  assert.throws(() => loadProfileSource(config, ProfileSettingsSchema.parse({ nextCert: 'missing.pem' })), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_FILE_UNREADABLE' && /next certificate/.test(err.message));
  assert.equal(ProfileSettingsSchema.safeParse({ endpoints: ['no-port'] }).success, false);
  assert.equal(ProfileSettingsSchema.safeParse({ profile: { transport: 'carrier-pigeon' } }).success, false);
});

test('a document the client schema would refuse is never built', () => {
  assert.throws(() => buildProfileDocument({ ...source, endpoints: [] }, 'alice'));
  assert.throws(() => buildProfileDocument({ ...source, pins: ['not a pin'] }, 'alice'));
  assert.deepEqual(buildProfileDocument({ ...source, endpoints: ['a.example:443', 'a.example:443'] }, 'alice').endpoints, ['a.example:443'], 'duplicates folded');
});
