import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SeenApp } from '../../shared/engine-api.js';
import { AppRules, SeenApps } from './app-rules.js';

test('an app rule decides by executable path; other and unknown apps get the default', () => {
  const rules = new AppRules({ appRules: { '/usr/bin/curl': 'block', '/usr/bin/wget': 'direct' }, defaultAppAction: 'tunnel' });
  assert.equal(rules.decide({ path: '/usr/bin/curl' }), 'block');
  assert.equal(rules.decide({ path: '/usr/bin/wget' }), 'direct');
  assert.equal(rules.decide({ path: '/usr/bin/firefox' }), 'tunnel');
  assert.equal(rules.decide(undefined), 'tunnel');
  assert.equal(new AppRules({ defaultAppAction: 'direct' }).decide(undefined), 'direct');
  assert.ok(rules.has('/usr/bin/curl') && !rules.has('/x'));
});

test('seen apps count connections, keep the latest first and tell listeners once per tick', async () => {
  const seen = new SeenApps(2);
  const heard: SeenApp[][] = [];
  const dispose = seen.onChange((apps) => heard.push(apps));
  seen.record({ path: '/usr/bin/curl', name: 'curl' }, 1);
  seen.record({ path: '/usr/bin/curl', name: 'curl' }, 2);
  seen.record({ path: '/usr/bin/node', name: 'node' }, 3);
  await Promise.resolve();
  assert.equal(heard.length, 1);
  assert.deepEqual(heard[0], [
    { path: '/usr/bin/node', name: 'node', lastSeen: 3, connections: 1 },
    { path: '/usr/bin/curl', name: 'curl', lastSeen: 2, connections: 2 },
  ]);
  seen.record({ path: '/usr/bin/wget', name: 'wget' }, 4);
  assert.deepEqual(seen.list().map((a) => a.name), ['wget', 'node'], 'the oldest app leaves when the list is full');
  dispose();
  await Promise.resolve();
  assert.equal(heard.length, 1);
});
