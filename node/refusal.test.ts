/** The refusal's wire format, written once and read back. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConnectReply } from './connect-reply.js';
import { PinholeError } from '../shared/errors.js';
import { AUTH_CHALLENGE, refusalBody, refusalError, refusalHead, refusalHeaders } from './refusal.js';

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
