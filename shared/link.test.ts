import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLink, encodeLink, type LinkPayloadInput } from './link.js';
import { PinholeError } from './errors.js';
import { crc32 } from './crc32.js';

const sample: LinkPayloadInput = {
  name: 'Acme cloud',
  endpoints: ['gw.example.test:443', '[2001:db8::1]:8443'],
  serverName: 'gw.example.test',
  pin: 'ab'.repeat(32),
  user: 'alice',
  secret: 'correct horse battery staple',
  transport: 'h2',
  domains: ['api.vendor.example', '*.cdn.vendor.example'],
};

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PinholeError, `expected a PinholeError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected the decoder to throw');
};

test('a link decodes to exactly what was encoded, with the pin normalised', () => {
  const link = encodeLink(sample);
  assert.match(link, /^pinhole:\/\/v1\/[A-Za-z0-9_-]+\.[0-9a-z]{7}$/);
  const decoded = decodeLink(link);
  assert.equal(decoded.user, 'alice');
  assert.equal(decoded.secret, sample.secret);
  assert.equal(decoded.pin, 'AB'.repeat(32));
  assert.deepEqual(decoded.endpoints, sample.endpoints);
  assert.deepEqual(decoded.domains, sample.domains);
});

test('a pasted link survives surrounding spaces, quotes, angle brackets and line wraps', () => {
  const link = encodeLink(sample);
  const wrapped = ` <${link.slice(0, 30)}\n${link.slice(30)}> `;
  assert.equal(decodeLink(wrapped).user, 'alice');
});

test('every cut-off point of a link is reported as cut off, never as a crash', () => {
  const link = encodeLink(sample);
  for (let end = 'pinhole://v'.length; end < link.length; end++) {
    const code = codeOf(() => decodeLink(link.slice(0, end)));
    assert.ok(['PINHOLE_LINK_TRUNCATED', 'PINHOLE_LINK_INVALID'].includes(code), `cut at ${end} gave ${code}`);
  }
  assert.equal(codeOf(() => decodeLink(link.slice(0, link.length - 20))), 'PINHOLE_LINK_TRUNCATED');
});

test('an unknown version says which version it is', () => {
  const link = encodeLink(sample).replace('pinhole://v1/', 'pinhole://v3/');
  try {
    decodeLink(link);
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof PinholeError);
    assert.equal(err.code, 'PINHOLE_LINK_VERSION');
    assert.match(err.message, /unknown link version 3/i);
  }
});

test('malformed links get specific messages', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['https://example.com', /should start with pinhole:\/\//],
    ['pinhole://x/abc.0000000', /version/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => decodeLink(input), (err: unknown) => err instanceof PinholeError && message.test(err.message));
  }
});

test('a link whose checksum is right but whose data breaks the schema names the field', () => {
  const body = Buffer.from(JSON.stringify({ endpoints: ['nope'], serverName: 'x', user: 'u', secret: 's' })).toString('base64url');
  const check = crc32(new TextEncoder().encode(body)).toString(36).padStart(7, '0');
  assert.throws(
    () => decodeLink(`pinhole://v1/${body}.${check}`),
    (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_LINK_INVALID' && /endpoints\.0 must be HOST:PORT/.test(err.message),
  );
});

const signInSample: LinkPayloadInput = {
  name: 'Acme SSO',
  endpoints: ['gw.example.test:443'],
  serverName: 'gw.example.test',
  pin: 'cd'.repeat(32),
  signIn: { issuer: 'https://login.example.test/realms/acme', clientId: 'pinhole-desktop', scopes: ['openid', 'email', 'offline_access'] },
};

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PinholeError);
    return `${err.code}: ${err.message}`;
  }
  assert.fail('expected the decoder to throw');
};

/** A link whose JSON is exactly `payload`, checksum right, for shapes encodeLink refuses to write. */
const rawLink = (payload: unknown): string => {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `pinhole://v1/${body}.${crc32(new TextEncoder().encode(body)).toString(36).padStart(7, '0')}`;
};

test('a sign-in link carries the gateway, its pin and the identity provider, and no secret at all', () => {
  const link = encodeLink(signInSample);
  const decoded = decodeLink(link);
  assert.deepEqual(decoded.signIn, signInSample.signIn);
  assert.equal(decoded.secret, undefined);
  assert.equal(decoded.user, undefined);
  assert.ok(!Buffer.from(link.slice(13, link.lastIndexOf('.')), 'base64url').toString().includes('secret'));
});

test('a sign-in link is refused with a sentence naming what is wrong', () => {
  const { signIn } = signInSample as { signIn: Record<string, unknown> };
  const cases: [string, unknown, RegExp][] = [
    ['password and sign-in both', { ...signInSample, user: 'alice', secret: 'pw' }, /secret must not be there: a sign-in link carries no password/],
    ['neither', { ...signInSample, signIn: undefined }, /user is missing \(a link needs user and secret, or signIn/],
    ['user without secret', { ...signInSample, signIn: undefined, user: 'alice' }, /secret is missing/],
    ['plain http issuer', { ...signInSample, signIn: { ...signIn, issuer: 'http://login.example.test' } }, /signIn\.issuer must be the https:\/\/ URL/],
    ['no client id', { ...signInSample, signIn: { issuer: signIn['issuer'] } }, /signIn\.clientId/],
    ['a scope with a space', { ...signInSample, signIn: { ...signIn, scopes: ['openid email'] } }, /signIn\.scopes\.0 must be scope names without spaces/],
    ['an unknown sign-in field (a client secret)', { ...signInSample, signIn: { ...signIn, clientSecret: 'x' } }, /signIn/],
  ];
  for (const [what, payload, expected] of cases) {
    const message = messageOf(() => decodeLink(rawLink(payload)));
    assert.match(message, /^PINHOLE_LINK_INVALID: This is not a valid Pinhole link: /, what);
    assert.match(message, expected, what);
  }
});

test('a loopback http issuer is accepted (a provider on this machine)', () => {
  const decoded = decodeLink(encodeLink({ ...signInSample, signIn: { issuer: 'http://127.0.0.1:8443', clientId: 'pinhole' } }));
  assert.equal(decoded.signIn?.issuer, 'http://127.0.0.1:8443');
});
