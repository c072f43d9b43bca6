import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from './package-root.js';

test('a module finds the package it belongs to from its source and from its copy in dist/', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pinhole-root-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'package.json'), '{}');
  mkdirSync(join(root, 'dist', 'main', 'console'), { recursive: true });
  const url = (...parts: string[]): string => pathToFileURL(join(root, ...parts)).href;
  assert.equal(packageRoot(url('main', 'console', 'renderer-build.ts')), root);
  assert.equal(packageRoot(url('dist', 'main', 'console', 'renderer-build.js')), root);
  assert.equal(packageRoot(url('dist', 'app', 'main.js')), root);
});

test('the repository itself is found from this very module', () => {
  assert.ok(packageRoot(import.meta.url).length > 1);
});
