import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRORS, PinholeError, type ErrorCode } from '../shared/errors.js';
import { isConnectionFailure, isFatal, isRetryable, statusForApplication } from './error-meaning.js';

test('a lost gateway is retried, a setting the user must change is fatal, a destination failure is neither', () => {
  assert.ok(isRetryable('PINHOLE_GATEWAY_UNREACHABLE') && !isFatal('PINHOLE_GATEWAY_UNREACHABLE'));
  assert.ok(isFatal('PINHOLE_TLS_PIN_MISMATCH') && !isRetryable('PINHOLE_TLS_PIN_MISMATCH'));
  assert.ok(!isRetryable('PINHOLE_CONNECT_FAILED') && !isFatal('PINHOLE_CONNECT_FAILED'));
  assert.ok(isConnectionFailure(new PinholeError('PINHOLE_GATEWAY_CLOSED')));
  assert.ok(!isConnectionFailure(new PinholeError('PINHOLE_DEST_FORBIDDEN')));
  assert.ok(!isConnectionFailure(new Error('socket hang up')), 'only codes count, never a message');
  for (const code of Object.keys(ERRORS) as ErrorCode[]) assert.ok(!(isRetryable(code) && isFatal(code)), code);
});

test("an application sees the gateway's auth refusal as 502, every other code at its own status", () => {
  assert.equal(statusForApplication('PINHOLE_AUTH_REJECTED'), 502);
  assert.equal(statusForApplication('PINHOLE_AUTH_MISSING'), 502);
  assert.equal(statusForApplication('PINHOLE_DEST_FORBIDDEN'), 403);
  assert.equal(statusForApplication('PINHOLE_CONNECT_TIMEOUT'), 504);
});
