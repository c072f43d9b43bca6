import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const rendererDir = join(here, '..');
const cataloguesDir = join(here, '..', '..', 'shared', 'i18n');
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(cataloguesDir, `${name}.json`), 'utf8')) as Record<string, unknown>;

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

const en = flatten(load('en'));

test('every key the UI asks for exists in the English catalogue', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'dist' ? [] : sources(join(dir, e.name))) : /\.tsx?$/.test(e.name) && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));
  const keys = new Set([...en.keys()].map(base));
  const used = new Set<string>();
  for (const file of sources(rendererDir)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/\bt\('([a-zA-Z0-9_.]+)'/g)) used.add(match[1] ?? '');
  }
  assert.ok(used.size > 80, `found ${used.size} keys in the UI`);
  assert.deepEqual([...used].filter((k) => !keys.has(k)), []);
});
