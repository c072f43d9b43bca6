import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from './errors.js';
import { DEFAULT_SETTINGS } from './settings.js';
import {
  COMMAND_NAMES,
  MAX_MESSAGE_BYTES,
  answerFrame,
  contract,
  createClient,
  createDispatcher,
  createFrameClientTransport,
  parseFrame,
  type Handlers,
  type UiSettings,
} from './contract.js';

const { defaultProfileId: _defaultProfile, ...uiDefaults } = DEFAULT_SETTINGS;
const settings: UiSettings = { ...uiDefaults, localPort: 8080, language: 'en' };

/** Handlers that record every call; only a few answer, the rest are never expected to run. */
const recordingHandlers = () => {
  const calls: { name: string; input: unknown }[] = [];
  let current = { ...settings };
  const handlers = Object.fromEntries(
    COMMAND_NAMES.map((name) => [
      name,
      (input: unknown) => {
        calls.push({ name, input });
        switch (name) {
          case 'getStatus':
            return { state: 'disconnected', since: 1 };
          case 'getSettings':
            return current;
          case 'setSettings':
            current = { ...current, ...(input as Partial<UiSettings>) };
            return current;
          case 'deleteProfile':
            throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', 'There is no profile "x".', { details: { secretRef: 'profile:x' }, cause: new Error('disk path /home/u') });
          case 'disconnect':
            throw new Error('internal detail: /home/alice/.config/pinhole password=hunter2');
          case 'getStats':
            return { openTunnels: -1 };
          default:
            throw new Error(`unexpected call ${name}`);
        }
      },
    ]),
  ) as unknown as Handlers;
  return { handlers, calls, settings: () => current };
};

test('every command and event is declared once, with an input and output schema', () => {
  assert.ok(COMMAND_NAMES.length >= 20);
  for (const name of COMMAND_NAMES) {
    assert.ok(contract.commands[name].input, `${name} has an input schema`);
    assert.ok(contract.commands[name].output, `${name} has an output schema`);
  }
  assert.deepEqual(Object.keys(contract.events).sort(), ['apps', 'link', 'log', 'profiles', 'settings', 'stats', 'status']);
});

test('an unknown command is refused with PINHOLE_CONTRACT_INVALID and runs nothing', async () => {
  const { handlers, calls } = recordingHandlers();
  const dispatch = createDispatcher(handlers);
  for (const name of ['rm -rf', '__proto__', 'constructor', 'toString', 42, null]) {
    const reply = await dispatch(name, {});
    assert.equal(reply.ok, false);
    assert.equal(!reply.ok && reply.error.code, 'PINHOLE_CONTRACT_INVALID');
  }
  assert.deepEqual(calls, []);
});

test('wrong types are refused with a readable reason and change nothing', async () => {
  const { handlers, calls, settings: current } = recordingHandlers();
  const dispatch = createDispatcher(handlers);
  const bad: [string, unknown][] = [
    ['setSettings', { localPort: 'eighty' }],
    ['setSettings', { localPort: 70000 }],
    ['setSettings', { theme: 'purple' }],
    ['setSettings', { evil: true }],
    ['setSettings', 'localPort=1'],
    ['setAppRule', { path: '/usr/bin/curl', action: 'allow-everything' }],
    ['connect', { profileId: 7 }],
    ['setCredentials', { id: 'p', user: 'alice' }],
    ['saveProfile', { name: 'x', endpoints: ['no-port'], serverName: 'gw', user: 'u', trust: { kind: 'pin', pin: 'abc' } }],
    ['getStatus', { extra: 1 }],
  ];
  for (const [name, input] of bad) {
    const reply = await dispatch(name, input);
    assert.equal(reply.ok, false, `${name} ${JSON.stringify(input)} is refused`);
    if (!reply.ok) {
      assert.equal(reply.error.code, 'PINHOLE_CONTRACT_INVALID');
      assert.match(reply.error.message, new RegExp(`Wrong input for ${name}`));
    }
  }
  assert.deepEqual(calls, []);
  assert.deepEqual(current(), settings);
});

test('a payload over 256 KiB is refused before any handler runs', async () => {
  const { handlers, calls } = recordingHandlers();
  const dispatch = createDispatcher(handlers);
  const reply = await dispatch('setSettings', { bypass: Array.from({ length: 400 }, () => 'x'.repeat(1000)) });
  assert.equal(reply.ok, false);
  assert.equal(!reply.ok && reply.error.code, 'PINHOLE_CONTRACT_INVALID');
  assert.match(!reply.ok ? reply.error.message : '', /larger than 262144 bytes/);
  assert.deepEqual(calls, []);
  assert.throws(() => parseFrame(' '.repeat(MAX_MESSAGE_BYTES + 1)), { code: 'PINHOLE_CONTRACT_INVALID' });
});

test('a valid call runs its handler once and its result is validated', async () => {
  const { handlers, calls } = recordingHandlers();
  const dispatch = createDispatcher(handlers);
  const reply = await dispatch('setSettings', { theme: 'dark' });
  assert.deepEqual(reply, { ok: true, result: { ...settings, theme: 'dark' } });
  assert.equal(calls.length, 1);
  const status = await dispatch('getStatus', undefined);
  assert.deepEqual(status, { ok: true, result: { state: 'disconnected', since: 1, warnings: [] } });
  const badResult = await dispatch('getStats', {});
  assert.equal(!badResult.ok && badResult.error.code, 'PINHOLE_CONTRACT_INVALID');
});

test('errors cross as { code, message } only: no cause, details or internal text', async () => {
  const { handlers } = recordingHandlers();
  const dispatch = createDispatcher(handlers);
  const known = await dispatch('deleteProfile', { id: 'x' });
  assert.deepEqual(known, { ok: false, error: { code: 'PINHOLE_PROFILE_NOT_FOUND', message: 'There is no profile "x".' } });
  const unknown = await dispatch('disconnect', {});
  assert.deepEqual(unknown, { ok: false, error: { code: 'PINHOLE_INTERNAL', message: 'Something went wrong inside Pinhole: this is a bug. Please report it to the Pinhole project together with the log.' } });
  assert.doesNotMatch(JSON.stringify(unknown), /hunter2|alice/);
});

test('the typed client speaks frames to the server half and rejects with the server code', async () => {
  const { handlers } = recordingHandlers();
  const dispatch = createDispatcher(handlers);
  const toClient = new Set<(text: string) => void>();
  const transport = createFrameClientTransport({
    send: (text) => void answerFrame(dispatch, text).then((reply) => reply && toClient.forEach((l) => l(reply))),
    onMessage: (listener) => {
      toClient.add(listener);
      return () => toClient.delete(listener);
    },
  });
  const client = createClient(transport);
  assert.equal((await client.setSettings({ language: 'es' })).language, 'es');
  await assert.rejects(client.deleteProfile({ id: 'x' }), (error: unknown) => error instanceof PinholeError && error.code === 'PINHOLE_PROFILE_NOT_FOUND');
  // A caller that bypasses the types still meets the server's validation.
  await assert.rejects((client.setSettings as (input: unknown) => Promise<unknown>)({ localPort: -1 }), { code: 'PINHOLE_CONTRACT_INVALID' });
  transport.dispose();
});

test('events reach subscribers only when they match the contract', () => {
  const listeners = new Map<string, (payload: unknown) => void>();
  const client = createClient({
    invoke: async () => ({ ok: true, result: {} }),
    subscribe: (event, listener) => {
      listeners.set(event, listener);
      return () => listeners.delete(event);
    },
  });
  const seen: unknown[] = [];
  const dispose = client.on('stats', (stats) => seen.push(stats));
  listeners.get('stats')?.({ openTunnels: 'many' });
  listeners.get('stats')?.({ openTunnels: 1, totalTunnels: 2, bytesUp: 3, bytesDown: 4, rttMs: null, gatewayConnections: 1 });
  assert.equal(seen.length, 1);
  dispose();
  assert.equal(listeners.size, 0);
  assert.throws(() => (client.on as (e: string, l: () => void) => void)('secrets', () => undefined), { code: 'PINHOLE_CONTRACT_INVALID' });
});

test('malformed frames are answered with a contract error, not a crash', async () => {
  const { handlers, calls } = recordingHandlers();
  const dispatch = createDispatcher(handlers);
  for (const text of ['not json', '[]', '{"t":"call","id":-1,"name":"getStatus"}', '{"t":"event","name":"status","payload":{}}']) {
    const reply = JSON.parse((await answerFrame(dispatch, text)) ?? '{}') as { ok: boolean; error: { code: string } };
    assert.equal(reply.ok, false, text);
    assert.equal(reply.error.code, 'PINHOLE_CONTRACT_INVALID');
  }
  assert.deepEqual(calls, []);
});

test("the UI's settings are exactly the stored settings minus the default profile (no drift)", () => {
  assert.deepEqual(Object.keys(contract.events.settings.shape).sort(), Object.keys(DEFAULT_SETTINGS).filter((k) => k !== 'defaultProfileId').sort());
});
