import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseKey as base, flattenCatalogue as flatten } from './catalogue-keys.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(here, `${name}.json`), 'utf8')) as Record<string, unknown>;

const placeholders = (text: string): string[] => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1] ?? '').sort();

const en = flatten(load('en'));
const others = { 'zh-CN': flatten(load('zh-CN')), es: flatten(load('es')) };

test('Chinese and Spanish translate every English string, with the same placeholders', () => {
  const enKeys = new Set([...en.keys()].map(base));
  for (const [lang, catalogue] of Object.entries(others)) {
    const keys = new Set([...catalogue.keys()].map(base));
    assert.deepEqual([...enKeys].filter((k) => !keys.has(k)), [], `${lang} is missing keys`);
    assert.deepEqual([...keys].filter((k) => !enKeys.has(k)), [], `${lang} has keys English does not`);
    for (const [key, text] of catalogue) {
      const english = en.get(key) ?? en.get(`${base(key)}_other`) ?? en.get(base(key)) ?? '';
      assert.deepEqual(placeholders(text), placeholders(english), `${lang} ${key} keeps the placeholders`);
    }
  }
});
