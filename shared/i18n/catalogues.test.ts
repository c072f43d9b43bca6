import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(here, `${name}.json`), 'utf8')) as Record<string, unknown>;

const flatten = (value: unknown, prefix = ''): Map<string, string> => {
  const out = new Map<string, string>();
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof child === 'string') out.set(path, child);
    else for (const [k, v] of flatten(child, path)) out.set(k, v);
  }
  return out;
};

/** A key as code uses it: plural suffixes (_one, _other, _many) folded away. */
const base = (key: string): string => key.replace(/_(zero|one|two|few|many|other)$/, '');
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
