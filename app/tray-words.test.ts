import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MenuItemConstructorOptions } from 'electron';
import type { EventName, ProfileList, UiSettings } from '../shared/contract.js';
import { DesktopShell, type ShellHost } from './shell.js';
import { TRAY_WORDS_EN } from './tray-menu.js';
import { languageForLocale, trayLanguage, trayWords } from './tray-words.js';

const settings: UiSettings = { localPort: 8080, systemProxyOnConnect: false, proxyMode: 'pac', bypass: [], startAtLogin: false, connectAtStart: false, upstreamProxy: '', theme: 'system', language: 'es' };
const profiles: ProfileList = { defaultId: 'p1', profiles: [{ id: 'p1', name: 'Trabajo' } as ProfileList['profiles'][number]] };

/** The desktop shell with the Electron pieces faked; `locale` plays app.getLocale(). */
const desktop = (language: string, locale = 'en-US') => {
  let listener: ((event: EventName, payload: unknown) => void) | undefined;
  const trays: { tooltip: string; menu: MenuItemConstructorOptions[] }[] = [];
  const host: ShellHost = {
    handlers: {
      getStatus: () => ({ state: 'disconnected', since: 0, warnings: [] }),
      listProfiles: () => profiles,
      getSettings: () => ({ ...settings, language: language as UiSettings['language'] }),
      getInfo: () => ({ version: '1', keychain: { kind: 'k', location: 'l' }, proxyAddress: '127.0.0.1:8080', shellExport: 'export https_proxy=http://127.0.0.1:8080', platform: 'linux' }),
      connect: () => ({ state: 'connecting', since: 0, warnings: [] }),
      disconnect: () => ({ state: 'disconnected', since: 0, warnings: [] }),
      checkConnection: () => {
        throw new Error('not checked here');
      },
    },
    onEvent: (l) => ((listener = l), () => (listener = undefined)),
    shutdown: async () => undefined,
  };
  const shell = new DesktopShell({
    host,
    platform: 'linux',
    showWindow: () => undefined,
    hideWindow: () => undefined,
    sendLink: () => undefined,
    notify: () => undefined,
    copy: () => undefined,
    setTray: (_image, tooltip, menu) => void trays.push({ tooltip, menu }),
    setLoginItem: () => undefined,
    exit: () => undefined,
    words: (setting) => trayWords(trayLanguage(setting, () => locale)),
  });
  const emit = async (event: EventName, payload: unknown): Promise<void> => {
    listener?.(event, payload);
    await new Promise((r) => setImmediate(r));
  };
  const labels = (): string[] => (trays.at(-1)?.menu ?? []).map((item) => item.label).filter((label): label is string => typeof label === 'string');
  return { shell, emit, trays, labels };
};

test('with Spanish chosen in Settings, the tray menu speaks Spanish', async () => {
  const d = desktop('es');
  await d.shell.start([]);
  assert.deepEqual(d.labels(), ['Sin conexión', 'Conectar', 'Perfil', 'Abrir Pinhole', 'Copiar la dirección del proxy', 'Copiar el comando export para la terminal', 'Comprobar mi conexión', 'Salir de Pinhole']);
  assert.equal(d.trays.at(-1)?.tooltip, 'Pinhole: Sin conexión');
  await d.emit('status', { state: 'connected', since: 0, warnings: [], gateway: 'gw.example.com' });
  assert.deepEqual(d.labels().slice(0, 2), ['Conectado · gw.example.com', 'Desconectar']);
});

test('changing the language in Settings redraws the tray in the new language', async () => {
  const d = desktop('en');
  await d.shell.start([]);
  assert.ok(d.labels().includes('Quit Pinhole'));
  await d.emit('settings', { ...settings, language: 'zh-CN' });
  assert.ok(d.labels().includes('退出 Pinhole'), d.labels().join(' | '));
  assert.ok(d.labels().includes('连接'));
});

test("'system' (or a setting we do not know) follows the OS locale", async () => {
  const d = desktop('system', 'es-419');
  await d.shell.start([]);
  assert.ok(d.labels().includes('Conectar'), d.labels().join(' | '));
  assert.equal(trayLanguage('system', () => 'zh-Hans-CN'), 'zh-CN');
  assert.equal(trayLanguage('toString', () => 'fr-FR'), 'en');
  assert.equal(trayLanguage('es', () => 'zh-CN'), 'es', 'an explicit choice wins over the OS locale');
  const table: [string, string][] = [['en-US', 'en'], ['es', 'es'], ['ES-mx', 'es'], ['zh-TW', 'zh-CN'], ['de-DE', 'en'], ['', 'en']];
  for (const [locale, language] of table) assert.equal(languageForLocale(locale), language, locale);
});

test('the English catalogue holds the tray words the menu always had, and every language has all of them', () => {
  const { lostConnection, ...menu } = trayWords('en');
  assert.deepEqual(menu, TRAY_WORDS_EN);
  assert.deepEqual(lostConnection, { title: 'Pinhole lost the connection', body: 'The connection to the gateway ended unexpectedly.' });
  const shape = (words: object): string[] => Object.entries(words).flatMap(([k, v]) => (typeof v === 'string' ? [k] : shape(v as object).map((s) => `${k}.${s}`))).sort();
  for (const language of ['zh-CN', 'es'] as const) {
    assert.deepEqual(shape(trayWords(language)), shape(trayWords('en')), language);
    assert.notEqual(trayWords(language).connect, TRAY_WORDS_EN.connect, `${language} is translated`);
    assert.notEqual(trayWords(language).lostConnection.title, lostConnection.title, `${language} translates the notification`);
    assert.notEqual(trayWords(language).lostConnection.body, lostConnection.body, `${language} translates the notification's fallback`);
  }
});
