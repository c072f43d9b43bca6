import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UiSettingsSchema } from './contract.js';
import { DEFAULT_SETTINGS, SettingsPatchSchema, SettingsSchema } from './settings.js';

/** The settings object as the previous version wrote it to config.json (every field, language 'en'|'zh-CN'|'es'). */
const writtenBefore = {
  defaultProfileId: 'p1',
  localPort: 8080,
  systemProxyOnConnect: true,
  proxyMode: 'manual',
  bypass: ['*.corp.example'],
  startAtLogin: true,
  connectAtStart: false,
  theme: 'dark',
  language: 'es',
  upstreamProxy: 'proxy.corp.example:3128',
};

test('a new install follows the system language', () => {
  assert.equal(DEFAULT_SETTINGS.language, 'system');
  assert.equal(SettingsSchema.parse({}).language, 'system');
  assert.equal(UiSettingsSchema.shape.language.parse('system'), 'system', 'the UI contract carries the choice too');
});

test('settings written by the previous version load unchanged, their language included', () => {
  for (const language of ['en', 'zh-CN', 'es'] as const) {
    assert.deepEqual(SettingsSchema.parse({ ...writtenBefore, language }), { ...writtenBefore, language });
  }
  const { language: _omitted, ...withoutLanguage } = writtenBefore;
  assert.equal(SettingsSchema.parse(withoutLanguage).language, 'system', 'a file without a language follows the system');
});

test('a language this version does not ship follows the system and keeps the other settings', () => {
  const table: unknown[] = ['fr', 'EN', '', null, 42, { tag: 'es' }];
  for (const language of table) {
    const parsed = SettingsSchema.parse({ ...writtenBefore, language });
    assert.deepEqual(parsed, { ...writtenBefore, language: 'system' }, String(language));
  }
  assert.equal(SettingsSchema.safeParse({ ...writtenBefore, localPort: 70000 }).success, false, 'other fields are still checked');
  assert.equal(SettingsSchema.safeParse(['en']).success, false);
});

test('a settings change may pick the system language or a shipped one, nothing else', () => {
  assert.deepEqual(SettingsPatchSchema.parse({ language: 'system' }), { language: 'system' });
  assert.deepEqual(SettingsPatchSchema.parse({ language: 'zh-CN' }), { language: 'zh-CN' });
  assert.equal(SettingsPatchSchema.safeParse({ language: 'fr' }).success, false);
});
