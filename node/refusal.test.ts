/** The refusal's wire format, written once and read back. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConnectReply } from './connect-reply.js';
import { PinholeError } from '../shared/errors.js';
import { AUTH_CHALLENGE, plainRefusalHead, refusalBody, refusalError, refusalFor, refusalHead, refusalHeadFor, refusalHeaders } from './refusal.js';

test('a 407 carries the code, the one challenge and a body whose length matches', () => {
  const err = new PinholeError('PINHOLE_AUTH_MISSING');
  const text = refusalHead(err);
  const reply = parseConnectReply(Buffer.from(text));
  assert.equal(reply.kind, 'reply');
  if (reply.kind !== 'reply') return;
  assert.equal(reply.status, 407);
  assert.equal(reply.headers['pinhole-error'], 'PINHOLE_AUTH_MISSING');
  assert.equal(reply.headers['proxy-authenticate'], 'Basic realm="Pinhole"');
  assert.equal(AUTH_CHALLENGE, 'Basic realm="Pinhole"');
  assert.equal(Number(reply.headers['content-length']), Buffer.byteLength(text.slice(reply.headLength)));
  assert.match(text.slice(reply.headLength), /^407 PINHOLE_AUTH_MISSING: /);
});

test('a 403 has no challenge; the header form matches the text form', () => {
  const err = new PinholeError('PINHOLE_DEST_FORBIDDEN', 'No, ü.');
  assert.doesNotMatch(refusalHead(err), /Proxy-Authenticate/);
  const headers = refusalHeaders(err);
  assert.equal(headers['pinhole-error'], 'PINHOLE_DEST_FORBIDDEN');
  assert.equal(headers['content-length'], Buffer.byteLength(refusalBody(err)));
  assert.equal(headers['proxy-authenticate'], undefined);
});

test('reading a refusal back: the gateway code wins, Squid statuses map, 407 is always rejected credentials', () => {
  assert.equal(refusalError(403, 'PINHOLE_PORT_FORBIDDEN', 'u', 'a:1').code, 'PINHOLE_PORT_FORBIDDEN');
  assert.equal(refusalError(503, undefined, 'u', 'a:1').code, 'PINHOLE_CONNECT_FAILED');
  assert.equal(refusalError(407, 'PINHOLE_AUTH_MISSING', 'alice', 'a:1').code, 'PINHOLE_AUTH_REJECTED');
  assert.match(refusalError(407, undefined, 'alice', 'a:1').message, /alice/);
  assert.equal(refusalError(403, 'NOT_A_CODE', 'u', 'a:1').code, 'PINHOLE_DEST_FORBIDDEN');
});

test('a stranger\'s refusal is plain: the status, a bare page, a Basic challenge on 407, Retry-After; no code, no product words', () => {
  const missing = refusalFor(new PinholeError('PINHOLE_AUTH_MISSING'), undefined);
  assert.equal(missing.status, 407);
  assert.equal(missing.headers['proxy-authenticate'], 'Basic realm="proxy"');
  assert.equal(missing.headers['pinhole-error'], undefined);
  assert.match(missing.body, /<h1>407 Proxy Authentication Required<\/h1>/);
  const throttled = new PinholeError('PINHOLE_AUTH_THROTTLED', undefined, { details: { retryAfterSeconds: 30 } });
  const head = refusalHeadFor(throttled, undefined);
  assert.match(head, /^HTTP\/1\.1 429 Too Many Requests\r\nRetry-After: 30\r\n/);
  for (const text of [head, plainRefusalHead(new PinholeError('PINHOLE_REQUEST_TIMEOUT')), JSON.stringify(missing)]) assert.doesNotMatch(text, /pinhole/i);
  // Signed in, the same refusal carries its code.
  assert.equal(refusalFor(new PinholeError('PINHOLE_DEST_FORBIDDEN'), 'alice').headers['pinhole-error'], 'PINHOLE_DEST_FORBIDDEN');
  // And the client reads the plain answers back: 407 is a wrong password, 429 a throttled one.
  assert.equal(refusalError(407, undefined, 'alice', 'x:443').code, 'PINHOLE_AUTH_REJECTED');
  assert.equal(refusalError(429, undefined, 'alice', 'x:443').code, 'PINHOLE_AUTH_THROTTLED');
  assert.equal(refusalError(429, 'PINHOLE_LIMIT_REACHED', 'alice', 'x:443').code, 'PINHOLE_LIMIT_REACHED');
});
