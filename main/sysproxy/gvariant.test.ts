import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gvBool, gvInt, gvString, gvStringArray } from './gvariant.js';

test('values Pinhole writes are spelled the way gsettings prints them back', () => {
  const table: Array<[string, string]> = [
    [gvString('127.0.0.1'), "'127.0.0.1'"],
    [gvString(''), "''"],
    [gvString("b'c"), `"b'c"`],
    [gvString(`a'b"c`), `"a'b\\"c"`],
    [gvString('back\\slash'), "'back\\\\slash'"],
    [gvString('tab\there'), "'tab\\there'"],
    [gvStringArray([]), '@as []'],
    [gvStringArray(['localhost', '::1']), "['localhost', '::1']"],
    [gvInt(8080), '8080'],
    [gvBool(true), 'true'],
    [gvBool(false), 'false'],
  ];
  for (const [actual, expected] of table) assert.equal(actual, expected);
});
