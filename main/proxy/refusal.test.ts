/** The local proxy's refusals: node/refusal.ts's format, at the status the application sees. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from '../../shared/errors.js';
import { parseConnectReply } from '../../node/connect-reply.js';
import { blockRefusal, refusalHead } from './refusal.js';

const read = (text: string) => {
  const reply = parseConnectReply(Buffer.from(text));
  assert.equal(reply.kind, 'reply');
  if (reply.kind !== 'reply') throw new Error('not a reply');
  return { ...reply, body: text.slice(reply.headLength) };
};

test("the gateway's 407 reaches the application as 502 with its code and no challenge it could not answer", () => {
  const reply = read(refusalHead(new PinholeError('PINHOLE_AUTH_REJECTED', 'The gateway rejected the user name or password for alice.')));
  assert.equal(reply.status, 502);
  assert.equal(reply.headers['pinhole-error'], 'PINHOLE_AUTH_REJECTED');
  assert.equal(reply.headers['proxy-authenticate'], undefined);
  assert.equal(reply.body, '502 PINHOLE_AUTH_REJECTED: The gateway rejected the user name or password for alice.\n');
  assert.equal(Number(reply.headers['content-length']), Buffer.byteLength(reply.body));
});

test('a block names its code, the app and the destination; the rule goes to the log', () => {
  const err = blockRefusal({ route: 'block', code: 'PINHOLE_APP_BLOCKED', rule: '/usr/bin/curl', app: 'curl' }, 'example.org:443');
  assert.equal(err.message, 'This application is blocked by a Pinhole rule. (curl -> example.org:443)');
  assert.deepEqual(err.details, { rule: '/usr/bin/curl', app: 'curl' });
  const reply = read(refusalHead(err));
  assert.equal(reply.status, 403);
  assert.equal(reply.headers['pinhole-error'], 'PINHOLE_APP_BLOCKED');
  const domain = blockRefusal({ route: 'block', code: 'PINHOLE_DOMAIN_BLOCKED', rule: '.ads.example' }, 'x.ads.example:443');
  assert.equal(domain.message, 'This destination is blocked by a Pinhole rule. (x.ads.example:443)');
});
