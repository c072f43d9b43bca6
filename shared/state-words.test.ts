import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stateSentence, stateWords } from './state-words.js';

test('every state reads as a sentence, a failure with its reason', () => {
  assert.equal(stateSentence({ state: 'connected', gateway: 'gw.example.com', transport: 'h2' }), 'Connected to gw.example.com via HTTP/2.');
  assert.equal(stateSentence({ state: 'connected', gateway: 'gw.example.com' }), 'Connected to gw.example.com.');
  assert.equal(stateSentence({ state: 'connecting', gateway: 'gw.example.com' }), 'Connecting to gw.example.com.');
  assert.equal(stateSentence({ state: 'reconnecting', gateway: 'gw.example.com' }), 'Reconnecting to gw.example.com.');
  assert.equal(stateSentence({ state: 'disconnected' }), 'Not connected.');
  assert.equal(stateSentence({ state: 'error' }), 'Connection failed.');
  assert.equal(
    stateSentence({ state: 'error', error: { code: 'PINHOLE_GATEWAY_UNREACHABLE', message: 'The Pinhole gateway could not be reached.' } }),
    'Connection failed: The Pinhole gateway could not be reached.',
  );
  for (const state of ['disconnected', 'connecting', 'connected', 'reconnecting', 'error'] as const) assert.doesNotMatch(stateSentence({ state }), /is now/);
  assert.deepEqual(stateWords({ state: 'error', error: { code: 'PINHOLE_INTERNAL', message: 'x' } }), { key: 'errorBecause', values: { reason: 'x' } });
});
