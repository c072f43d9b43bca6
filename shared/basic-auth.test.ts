import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseBasicCredentials } from './basic-auth.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

const table: Array<[string | undefined, { user: string; password: string } | undefined]> = [
  [`Basic ${b64('alice:secret')}`, { user: 'alice', password: 'secret' }],
  [`  basic ${b64('alice:se:cr:et')}  `, { user: 'alice', password: 'se:cr:et' }],
  [`BASIC ${b64('jörg:pässword')}`, { user: 'jörg', password: 'pässword' }],
  [`Basic ${b64('alice:')}`, { user: 'alice', password: '' }],
  [undefined, undefined],
  ['', undefined],
  ['Bearer abc', undefined],
  ['Basic', undefined],
  ['Basic !!!', undefined],
  [`Basic ${b64(':secret')}`, undefined],
  [`Basic ${b64('nocolon')}`, undefined],
  [`Basic ${Buffer.from([0x61, 0x3a, 0xc3, 0x28]).toString('base64')}`, undefined],
  [`Basic ${b64('a:b')} extra`, undefined],
];
for (const [header, expected] of table) {
  test(`Basic credentials in ${JSON.stringify(header)}: ${expected ? expected.user : 'none'}`, () => {
    assert.deepEqual(parseBasicCredentials(header), expected);
  });
}

test('any user without a colon and any password round-trip (property)', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }).filter((u) => !u.includes(':')), fc.string(), (user, password) => {
      assert.deepEqual(parseBasicCredentials(`Basic ${b64(`${user}:${password}`)}`), { user, password });
    }),
  );
});
