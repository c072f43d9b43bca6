import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rendererContentType } from './mime.js';

test('the renderer files get their content types, and anything else is opaque bytes', () => {
  const table: Array<[string, string]> = [
    ['.html', 'text/html; charset=utf-8'],
    ['.js', 'text/javascript; charset=utf-8'],
    ['.CSS', 'text/css; charset=utf-8'],
    ['.woff2', 'font/woff2'],
    ['.exe', 'application/octet-stream'],
    ['', 'application/octet-stream'],
  ];
  for (const [extension, type] of table) assert.equal(rendererContentType(extension), type, extension);
});
