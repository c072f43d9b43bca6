import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectLanguage, languageFor } from './index.js';

test('the browser / OS languages pick the first language we ship, else English', () => {
  const table: [string[], string][] = [
    [['es-419', 'en'], 'es'],
    [['de-DE', 'zh-Hans-CN', 'en'], 'zh-CN'],
    [['zh-TW'], 'zh-CN'],
    [['EN-gb', 'es'], 'en'],
    [['fr-FR', 'de'], 'en'],
    [[], 'en'],
  ];
  for (const [preferred, language] of table) assert.equal(detectLanguage(preferred), language, preferred.join(','));
});

test("'system' follows the browser / OS languages; an explicit choice wins over them", () => {
  assert.equal(languageFor('system', ['es-ES', 'en-US']), 'es');
  assert.equal(languageFor('system', ['zh-CN']), 'zh-CN');
  assert.equal(languageFor('system', ['fr-FR']), 'en');
  assert.equal(languageFor('en', ['es-ES']), 'en', 'a settings file from before the System choice keeps its English');
  assert.equal(languageFor('zh-CN', ['es-ES']), 'zh-CN');
  assert.equal(languageFor(undefined, ['es-ES']), 'es', 'before the settings arrive');
  assert.equal(languageFor('toString' as 'en', ['es']), 'es', 'an inherited property name is not a catalogue');
});
