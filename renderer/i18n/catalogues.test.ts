import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseKey as base, flattenCatalogue as flatten } from '../../shared/i18n/catalogue-keys.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const rendererDir = join(here, '..');
const cataloguesDir = join(here, '..', '..', 'shared', 'i18n');
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(cataloguesDir, `${name}.json`), 'utf8')) as Record<string, unknown>;


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
