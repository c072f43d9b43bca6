import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRORS, PinholeError, type ErrorCode } from '../../shared/errors.js';
import { REPLY } from './codec.js';
import { isSocks5FirstByte, socksReplyFor } from './reply-codes.js';

const table: Array<[ErrorCode, number]> = [
  ['PINHOLE_DEST_FORBIDDEN', REPLY.notAllowed],
  ['PINHOLE_PORT_FORBIDDEN', REPLY.notAllowed],
  ['PINHOLE_DOMAIN_BLOCKED', REPLY.notAllowed],
  ['PINHOLE_APP_BLOCKED', REPLY.notAllowed],
  ['PINHOLE_CONNECT_FAILED', REPLY.connectionRefused],
  ['PINHOLE_DNS_FAILED', REPLY.hostUnreachable],
  ['PINHOLE_CONNECT_TIMEOUT', REPLY.ttlExpired],
  ['PINHOLE_GATEWAY_TIMEOUT', REPLY.ttlExpired],
  ['PINHOLE_GATEWAY_UNREACHABLE', REPLY.networkUnreachable],
  ['PINHOLE_NOT_CONNECTED', REPLY.networkUnreachable],
  ['PINHOLE_AUTH_REJECTED', REPLY.generalFailure],
  ['PINHOLE_INTERNAL', REPLY.generalFailure],
];
for (const [code, reply] of table) {
  test(`${code} reaches a SOCKS application as reply ${reply}`, () => {
    assert.equal(socksReplyFor(new PinholeError(code)), reply);
  });
}

test('every error code maps to a valid reply (1-8), never to success', () => {
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const reply = socksReplyFor(new PinholeError(code));
    assert.ok(reply >= 1 && reply <= 8, code);
  }
});

test('raw socket errors map by errno; anything else is a general failure', () => {
  const errno = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(socksReplyFor(errno('ECONNREFUSED')), REPLY.connectionRefused);
  assert.equal(socksReplyFor(errno('ENOTFOUND')), REPLY.hostUnreachable);
  assert.equal(socksReplyFor(errno('ENETUNREACH')), REPLY.networkUnreachable);
  assert.equal(socksReplyFor(errno('ETIMEDOUT')), REPLY.ttlExpired);
  assert.equal(socksReplyFor(new Error('x')), REPLY.generalFailure);
  assert.equal(socksReplyFor(undefined), REPLY.generalFailure);
});

test('only 0x05 is SOCKS5: HTTP methods, TLS and SOCKS4 are not', () => {
  assert.equal(isSocks5FirstByte(0x05), true);
  for (const byte of [0x04, 0x16, 'G'.charCodeAt(0), 'C'.charCodeAt(0), 'P'.charCodeAt(0), 0x00]) assert.equal(isSocks5FirstByte(byte), false);
});
