import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MenuItemConstructorOptions } from 'electron';
import type { EventName, ProfileList, UiSettings } from '../shared/contract.js';
import type { DoctorReport } from '../shared/doctor.js';
import type { EngineStatus } from '../shared/engine-api.js';
import { DesktopShell, linkFromArgv, type ShellHost } from './shell.js';
import { trayLanguage, trayWords } from './tray-words.js';

const LINK = 'pinhole://v1/abc.def';
const settings: UiSettings = { localPort: 8080, systemProxyOnConnect: true, proxyMode: 'pac', bypass: [], startAtLogin: true, connectAtStart: false, upstreamProxy: '', theme: 'system', language: 'en' };
const profiles: ProfileList = { defaultId: 'p1', profiles: [{ id: 'p1', name: 'Work' } as ProfileList['profiles'][number]] };

/** `osLocale` plays Electron's app.getLocale(); with it the shell gets its words the way app/main.ts wires them. */
const world = (overrides: Partial<UiSettings> = {}, osLocale?: string) => {
  const log: string[] = [];
  let listener: ((event: EventName, payload: unknown) => void) | undefined;
  let trays: { image: string; tooltip: string; menu: MenuItemConstructorOptions[] }[] = [];
  const host: ShellHost = {
    handlers: {
      getStatus: () => ({ state: 'disconnected', since: 0, warnings: [] }),
      listProfiles: () => profiles,
      getSettings: () => ({ ...settings, ...overrides }),
      getInfo: () => ({ version: '1', keychain: { kind: 'k', location: 'l' }, proxyAddress: '127.0.0.1:8080', shellExport: 'export x', platform: 'linux' }),
      connect: ({ profileId }) => (log.push(`connect:${profileId ?? ''}`), { state: 'connecting', since: 0, warnings: [] }),
      disconnect: () => (log.push('disconnect'), { state: 'disconnected', since: 0, warnings: [] }),
      checkConnection: () => ({ ...checkReport, hops: [...checkReport.hops] }),
    },
    onEvent: (l) => ((listener = l), () => (listener = undefined)),
    shutdown: async () => {
      log.push('shutdown: disconnect + restore system proxy');
    },
  };
  const shell = new DesktopShell({
    host,
    platform: 'linux',
    showWindow: () => log.push('show'),
    hideWindow: () => log.push('hide'),
    sendLink: (link) => log.push(`link:${link}`),
    notify: (title, body) => log.push(`notify:${title}:${body}`),
    copy: (text) => log.push(`copy:${text}`),
    setTray: (image, tooltip, menu) => void (trays = [...trays, { image, tooltip, menu }]),
    setLoginItem: (on) => log.push(`login:${on}`),
    exit: (code) => log.push(`exit:${code}`),
    ...(osLocale === undefined ? {} : { words: (language: UiSettings['language']) => trayWords(trayLanguage(language, () => osLocale)) }),
  });
  const emit = async (event: EventName, payload: unknown): Promise<void> => {
    listener?.(event, payload);
    await new Promise((r) => setImmediate(r));
  };
  return { shell, log, emit, trays: () => trays, listening: () => listener !== undefined };
};

/** What the path check answers in this world (a test may replace its hops). */
const checkReport: DoctorReport = {
  ok: false,
  profile: 'Work',
  gateway: 'gw.example.com:443',
  checkedAt: new Date(0).toISOString(),
  hops: [
    { hop: 'resolve', status: 'pass', verdict: 'The name gw.example.com resolves to 203.0.113.7.', facts: {} },
    { hop: 'tcp', status: 'fail', code: 'PINHOLE_GATEWAY_TIMEOUT', verdict: 'Nothing answered on port 443 at gw.example.com:443 directly in time: a firewall is probably dropping the connection.', action: 'Ask the firewall admin to allow it.', facts: {} },
  ],
  firewall: [{ host: 'gw.example.com', port: 443, addresses: ['203.0.113.7'] }],
  firewallSentence: 'For the firewall admin: allow outgoing TCP to gw.example.com port 443 (its current addresses: 203.0.113.7), and nothing else.',
};

const status = (state: EngineStatus['state'], extra: Partial<EngineStatus> = {}): EngineStatus => ({ state, since: 0, warnings: [], ...extra });

test('start draws the tray, applies start at login, and opens a link given on the command line once the page is ready', async () => {
  const w = world();
  await w.shell.start(['/opt/Pinhole/pinhole', LINK]);
  assert.equal(w.trays().at(-1)?.image, 'tray-disconnected.png');
  assert.ok(w.log.includes('login:true'));
  assert.ok(w.log.includes('show'));
  assert.equal(w.log.some((l) => l.startsWith('link:')), false, 'the link waits for the page');
  w.shell.windowLoaded();
  assert.ok(w.log.includes(`link:${LINK}`));
});

test('a second launch focuses the window and forwards its pinhole:// link', async () => {
  const w = world();
  await w.shell.start([]);
  w.shell.windowLoaded();
  w.shell.secondInstance(['/usr/bin/pinhole', '--flag', LINK]);
  assert.deepEqual(w.log.slice(-2), ['show', `link:${LINK}`]);
  w.shell.openUrl('https://not-ours.example');
  w.shell.openUrl(LINK);
  assert.equal(w.log.filter((l) => l === `link:${LINK}`).length, 2);
});

test('closing the window hides it to the tray; after Quit it really closes', async () => {
  const w = world();
  await w.shell.start([]);
  assert.equal(w.shell.windowClosing(), true);
  assert.equal(w.log.at(-1), 'hide');
  await w.shell.quit();
  assert.equal(w.shell.windowClosing(), false);
});

test('Quit disconnects and restores the system proxy before the process exits, once', async () => {
  const w = world();
  await w.shell.start([]);
  await Promise.all([w.shell.quit(), w.shell.quit()]);
  const shutdown = w.log.indexOf('shutdown: disconnect + restore system proxy');
  assert.ok(shutdown >= 0);
  assert.ok(w.log.indexOf('exit:0') > shutdown);
  assert.equal(w.log.filter((l) => l === 'exit:0').length, 1);
  assert.equal(w.listening(), false);
});

test('an unexpected disconnect notifies with the reason; a chosen one does not', async () => {
  const w = world();
  await w.shell.start([]);
  await w.emit('status', status('connected', { gateway: 'gw.example.com', profile: 'Work' }));
  assert.equal(w.trays().at(-1)?.image, 'tray-connected.png');
  await w.emit('status', status('reconnecting', { error: { code: 'PINHOLE_GATEWAY_CLOSED', message: 'The connection to the Pinhole gateway was lost.' } }));
  assert.ok(w.log.includes('notify:Pinhole lost the connection:The connection to the Pinhole gateway was lost.'));
  assert.equal(w.trays().at(-1)?.image, 'tray-connecting.png');
  await w.emit('status', status('connected'));
  const before = w.log.filter((l) => l.startsWith('notify:')).length;
  w.shell.disconnect();
  await w.emit('status', status('disconnected'));
  assert.equal(w.log.filter((l) => l.startsWith('notify:')).length, before);
});

test('the lost-connection notification speaks the language chosen in Settings, or the OS language with System', async () => {
  const lostWithout = status('reconnecting');
  const lostWith = status('reconnecting', { error: { code: 'PINHOLE_GATEWAY_CLOSED', message: 'The connection to the Pinhole gateway was lost.' } });
  const notices = async (w: ReturnType<typeof world>, next: EngineStatus): Promise<string[]> => {
    await w.emit('status', status('connected'));
    await w.emit('status', next);
    return w.log.filter((l) => l.startsWith('notify:'));
  };

  const spanish = world({ language: 'es' }, 'en-US');
  await spanish.shell.start([]);
  assert.deepEqual(await notices(spanish, lostWithout), ['notify:Pinhole perdió la conexión:La conexión con la pasarela se cortó de forma inesperada.']);
  assert.equal((await notices(spanish, lostWith)).at(-1), 'notify:Pinhole perdió la conexión:The connection to the Pinhole gateway was lost.', "the engine's own reason is kept");

  const system = world({ language: 'system' }, 'zh-Hans-CN');
  await system.shell.start([]);
  assert.deepEqual(await notices(system, lostWithout), ['notify:Pinhole 连接已断开:与网关的连接意外中断。']);

  // Switching to English in Settings (as a settings file from before the System choice holds it) wins over the OS.
  await system.emit('settings', { ...settings, language: 'en' });
  assert.equal((await notices(system, lostWithout)).at(-1), 'notify:Pinhole lost the connection:The connection to the gateway ended unexpectedly.');
});

test('the tray menu drives the engine: Connect uses the default profile, Copy copies the shell line', async () => {
  const w = world();
  await w.shell.start([]);
  const menu = w.trays().at(-1)?.menu ?? [];
  (menu.find((m) => m.id === 'connect')?.click as unknown as () => void)();
  (menu.find((m) => m.id === 'copy-export')?.click as unknown as () => void)();
  await new Promise((r) => setImmediate(r));
  assert.ok(w.log.includes('connect:p1'));
  assert.ok(w.log.includes('copy:export x'));
});

test('connect at start connects with the default profile', async () => {
  const w = world({ connectAtStart: true });
  await w.shell.start([]);
  await new Promise((r) => setImmediate(r));
  assert.ok(w.log.includes('connect:'));
  assert.equal(linkFromArgv(['a', 'PINHOLE://v1/x']), 'PINHOLE://v1/x');
  assert.equal(linkFromArgv(['a', 'b']), undefined);
});

test('the tray\'s Check my connection runs the path check and tells the first failing hop\'s verdict and what to do', async () => {
  const w = world();
  await w.shell.start([]);
  (w.trays().at(-1)?.menu.find((m) => m.id === 'check')?.click as unknown as () => void)();
  await new Promise((r) => setImmediate(r));
  assert.ok(
    w.log.includes('notify:Check my connection:Nothing answered on port 443 at gw.example.com:443 directly in time: a firewall is probably dropping the connection. Ask the firewall admin to allow it.'),
    w.log.join('\n'),
  );
});
