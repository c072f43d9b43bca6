/**
 * Profiles that refresh themselves: the client fetches the gateway's real profile route over a
 * pinned, verified TLS connection (HTTP/2 stream and HTTP/1.1 request), validates it, sees what
 * the operator changed, and keeps a schedule (at connect, every few hours with jitter, backoff on
 * failure) with fake timers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2Connect } from 'node:http2';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { ProfileDocumentSchema } from '../../shared/profile-document.js';
import type { Trust } from '../../shared/profile.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../../test/support/certs.js';
import { startProfileGateway, type ProfileGateway } from '../../test/support/profile-gateway.js';
import { dialVerifiedTls } from '../../test/support/verified-tls.js';
import { planProfileUpdate, type ProfileView } from './profile-changes.js';
import { fetchProfileDocument, h1ProfileRequest, h2ProfileRequest, type ProfileHttpAnswer, type ProfileRequest } from './profile-fetch.js';
import { ProfileRefresher } from './refresh.js';

const NAME = 'gw.example.test';
const GW1 = 'gw1.example.test:443';
const GW2 = 'gw2.example.test:443';
const GW3 = 'gw3.example.test:443';
const ALICE = `Basic ${Buffer.from('alice:right').toString('base64')}`;

let cert: TestCertificate;
let gateway: ProfileGateway;
const baseSource = () => ({ serverName: NAME, endpoints: [GW1, GW2], pins: [cert.sha256], transport: 'h2' as const, domains: [], refreshSeconds: 21_600 });

before(async () => {
  cert = await makeSelfSignedCertificate({ commonName: NAME, altNames: [NAME] });
  gateway = await startProfileGateway({ cert: cert.cert, key: cert.key, source: baseSource(), users: { alice: 'right' } });
});
after(() => gateway.stop());

/** A verified TLS connection to the gateway, as the tunnel has one. */
const dialVerified = (alpn: string[], trust: Trust = { kind: 'pin', pin: cert.sha256 }): Promise<TLSSocket> =>
  dialVerifiedTls({ host: '127.0.0.1', port: gateway.port }, { serverName: NAME, trust, alpn });

const stored: ProfileView = { endpoints: [GW1, GW2], serverName: NAME, pins: [], transport: 'h2', wsPath: '/pinhole/ws', domains: [] };

test('over the tunnel\'s HTTP/2 session: the document, then 304, then the endpoint the operator added', async (t) => {
  const socket = await dialVerified(['h2']);
  const session = h2Connect(`https://${NAME}`, { createConnection: () => socket });
  t.after(() => session.destroy());
  gateway.setSource(baseSource());
  const request = h2ProfileRequest(session, ALICE);
  const first = await fetchProfileDocument(request, 'alice');
  assert.equal(first.kind, 'fresh');
  if (first.kind !== 'fresh') return;
  assert.deepEqual(first.document.endpoints, [GW1, GW2]);
  assert.deepEqual(first.document.pins, [cert.sha256]);
  assert.ok(first.etag !== undefined, 'an ETag came with it');
  assert.deepEqual(await fetchProfileDocument(request, 'alice', first.etag), { kind: 'unchanged' });

  gateway.setSource({ ...baseSource(), endpoints: [GW1, GW2, GW3] });
  const second = await fetchProfileDocument(request, 'alice', first.etag);
  assert.equal(second.kind, 'fresh');
  if (second.kind !== 'fresh') return;
  const plan = planProfileUpdate({ ...stored, pins: [cert.sha256] }, second.document, { working: [GW1], verifiedPin: cert.sha256 });
  assert.deepEqual(plan.changes.map((c) => c.sentence), ['Endpoint added: gw3.example.test:443.']);
  assert.equal(session.closed, false, 'the session (and its tunnels) stayed up throughout');
});

test('over a fresh verified HTTP/1.1 connection: the same document', async () => {
  gateway.setSource(baseSource());
  const result = await fetchProfileDocument(h1ProfileRequest(() => dialVerified(['http/1.1']), NAME, ALICE), 'alice');
  assert.equal(result.kind, 'fresh');
  if (result.kind === 'fresh') assert.deepEqual(result.document.endpoints, [GW1, GW2]);
});

test('wrong credentials are an auth error, not a silent empty profile', async (t) => {
  const socket = await dialVerified(['h2']);
  const session = h2Connect(`https://${NAME}`, { createConnection: () => socket });
  t.after(() => session.destroy());
  await assert.rejects(fetchProfileDocument(h2ProfileRequest(session, `Basic ${Buffer.from('alice:wrong').toString('base64')}`), 'alice'), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_AUTH_REJECTED');
});

test('a gateway with another certificate never gets to serve a profile: the pin stops the connection first', async () => {
  const other = await makeSelfSignedCertificate({ commonName: NAME, altNames: [NAME] });
  await assert.rejects(dialVerified(['h2'], { kind: 'pin', pin: other.sha256 }), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_TLS_PIN_MISMATCH');
});

const answering =
  (answer: Partial<ProfileHttpAnswer>): ProfileRequest =>
  async () => ({ status: 200, etag: undefined, body: '', ...answer });
const validBody = JSON.stringify({ version: 1, user: 'alice', serverName: NAME, endpoints: [GW1], transport: 'h2' });

const fetchRows: Array<{ story: string; answer: Partial<ProfileHttpAnswer>; expect: string }> = [
  { story: 'an older gateway without the route (404)', answer: { status: 404, body: 'not found' }, expect: 'unsupported' },
  { story: 'stunnel + Squid, which refuses an origin-form request (400)', answer: { status: 400, body: 'Invalid URL' }, expect: 'unsupported' },
  { story: 'not JSON', answer: { body: '<html>' }, expect: 'PINHOLE_PROFILE_DOCUMENT_INVALID' },
  { story: 'JSON that is not a profile', answer: { body: JSON.stringify({ version: 1, user: 'alice', endpoints: ['no-port'] }) }, expect: 'PINHOLE_PROFILE_DOCUMENT_INVALID' },
  { story: 'a newer document version', answer: { body: validBody.replace('"version":1', '"version":2') }, expect: 'PINHOLE_PROFILE_DOCUMENT_INVALID' },
  { story: "another user's profile", answer: { body: validBody.replace('"alice"', '"bob"') }, expect: 'PINHOLE_PROFILE_DOCUMENT_INVALID' },
  { story: 'a server error', answer: { status: 503 }, expect: 'PINHOLE_PROFILE_DOCUMENT_INVALID' },
  { story: 'a 407 from a proxy-style gateway', answer: { status: 407 }, expect: 'PINHOLE_AUTH_REJECTED' },
  { story: 'a valid document with fields from a newer gateway', answer: { body: validBody.replace('}', ',"futureField":true}') }, expect: 'fresh' },
];

for (const row of fetchRows) {
  test(`fetching: ${row.story}`, async () => {
    let outcome: string;
    try {
      outcome = (await fetchProfileDocument(answering(row.answer), 'alice')).kind;
    } catch (err) {
      assert.ok(err instanceof PinholeError, 'a PinholeError');
      assert.match(err.message, /\.$/);
      outcome = err.code;
    }
    assert.equal(outcome, row.expect);
  });
}

/** A logger whose lines the test reads. */
const capture = () => {
  const lines: Array<{ level: string; msg: string; change?: string; code?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination }) };
};

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

test('the schedule: at connect, then every interval with jitter, backoff after failures, changes applied and logged', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { lines, logger } = capture();
  const script: Array<() => Promise<import('./profile-fetch.js').ProfileFetchResult>> = [];
  const etags: Array<string | undefined> = [];
  let view: ProfileView = { ...stored };
  const doc = (endpoints: string[]) => ProfileDocumentSchema.parse({ version: 1, user: 'alice', serverName: NAME, endpoints, transport: 'h2', refreshSeconds: 3_600 });
  script.push(async () => ({ kind: 'fresh', document: doc([GW1, GW2]), etag: '"one"' }));
  script.push(async () => ({ kind: 'unchanged' }));
  script.push(async () => {
    throw new PinholeError('PINHOLE_GATEWAY_TIMEOUT');
  });
  script.push(async () => {
    throw new PinholeError('PINHOLE_GATEWAY_TIMEOUT');
  });
  script.push(async () => ({ kind: 'fresh', document: doc([GW1, GW2, GW3]), etag: '"two"' }));
  const applied: string[][] = [];
  const refresher = new ProfileRefresher({
    fetch: async (etag) => {
      etags.push(etag);
      const next = script.shift();
      if (!next) throw new Error('unexpected fetch');
      return next();
    },
    stored: () => view,
    context: () => ({ working: [GW1] }),
    apply: (plan) => {
      applied.push(plan.changes.map((c) => c.kind));
      view = plan.next;
    },
    logger,
    random: () => 0.5, // no jitter: exact times
  });
  const first = await refresher.start();
  assert.equal(first.kind, 'unchanged', 'the connect-time fetch: same endpoints as stored');
  assert.equal(refresher.nextAt, Date.now() + 3_600_000, "the document's own refresh interval");
  t.mock.timers.tick(3_600_000);
  await flush();
  assert.deepEqual(etags, [undefined, '"one"'], 'the second fetch is conditional');
  t.mock.timers.tick(3_600_000);
  await flush();
  assert.equal(refresher.nextAt, Date.now() + 60_000, 'after a failure: a retry in a minute');
  t.mock.timers.tick(60_000);
  await flush();
  assert.equal(refresher.nextAt, Date.now() + 120_000, 'then backoff');
  t.mock.timers.tick(120_000);
  await flush();
  assert.deepEqual(applied, [['endpoint-added']]);
  assert.deepEqual(view.endpoints, [GW1, GW2, GW3]);
  assert.ok(lines.some((l) => l.level === 'info' && l.change === 'endpoint-added' && l.msg === 'Endpoint added: gw3.example.test:443.'), 'the change is logged as a sentence');
  assert.equal(lines.filter((l) => l.level === 'warn' && l.code === 'PINHOLE_GATEWAY_TIMEOUT').length, 2);
  assert.equal(refresher.nextAt, Date.now() + 3_600_000, 'back to the interval after a success');
  refresher.stop();
  t.mock.timers.tick(10 * 3_600_000);
  await flush();
  assert.equal(script.length, 0);
  assert.equal(etags.length, 5, 'nothing after stop');
});

test('jitter spreads clients, backoff is capped at the interval, concurrent refreshes share one fetch, and "unsupported" is said once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { lines, logger } = capture();
  let fetches = 0;
  let answer: 'fail' | 'unsupported' = 'fail';
  const refresher = new ProfileRefresher({
    fetch: async () => {
      fetches += 1;
      if (answer === 'unsupported') return { kind: 'unsupported', status: 404 };
      throw new PinholeError('PINHOLE_GATEWAY_UNREACHABLE');
    },
    stored: () => stored,
    context: () => ({ working: [] }),
    apply: () => undefined,
    logger,
    intervalMs: 600_000,
    retryMs: 60_000,
    random: () => 0,
  });
  await Promise.all([refresher.start(), refresher.refreshNow(), refresher.refreshNow()]);
  assert.equal(fetches, 1, 'one fetch for three callers');
  assert.equal(refresher.nextAt, Date.now() + 54_000, 'jitter: 10 % early with random() = 0');
  for (let i = 0; i < 6; i++) {
    t.mock.timers.tick((refresher.nextAt as number) - Date.now());
    await flush();
  }
  assert.ok((refresher.nextAt as number) - Date.now() <= 600_000, 'backoff never beyond the interval');
  answer = 'unsupported';
  for (let i = 0; i < 3; i++) {
    t.mock.timers.tick((refresher.nextAt as number) - Date.now());
    await flush();
  }
  assert.equal(lines.filter((l) => /does not publish profiles/.test(l.msg)).length, 1);
  refresher.stop();
});
