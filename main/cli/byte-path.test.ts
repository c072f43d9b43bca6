import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../shared/log.js';
import { PinholeError } from '../../shared/errors.js';
import { bytePathFlag, startBytePath } from './byte-path.js';

test('--byte-path takes js, native or auto (absent: auto); anything else is a usage error naming the choices', () => {
  assert.equal(bytePathFlag(undefined), 'auto');
  for (const value of ['js', 'native', 'auto'] as const) assert.equal(bytePathFlag(value), value);
  assert.throws(
    () => bytePathFlag('fast'),
    (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_USAGE' && /js, native, auto/.test(err.message),
  );
});

test('--byte-path js runs the JavaScript path, and the one start-up line says so and why', () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: 'test', level: 'info', destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) } });
  assert.equal(startBytePath('js', logger), undefined);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.['bytePath'], 'js');
  assert.match(String(lines[0]?.['msg']), /--byte-path js/);
});

test('auto on Linux with the addon built runs the native path and says so once', { skip: process.platform !== 'linux' }, () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: 'test', level: 'info', destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) } });
  assert.notEqual(startBytePath('auto', logger), undefined);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.['bytePath'], 'native');
});
