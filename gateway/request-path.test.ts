/** docs/request-path.md's Gateway section names functions that exist, each in the file it names, at most eight of them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the Gateway request path in docs/request-path.md lists at most 8 functions, each declared in the file it names', () => {
  const doc = readFileSync(`${root}docs/request-path.md`, 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Gateway'));
  assert.ok(section !== undefined, 'a Gateway section');
  const steps = [...section.matchAll(/^\d+\. `([\w.]+)` \(`([^`]+)`\)/gm)].map((m) => ({ name: m[1]!, file: m[2]! }));
  assert.ok(steps.length > 0 && steps.length <= 8, `1 to 8 steps, saw ${steps.length}`);
  for (const { name, file } of steps) {
    const source = readFileSync(`${root}${file}`, 'utf8');
    const [owner, member] = name.includes('.') ? name.split('.') : [undefined, name];
    if (owner !== undefined) assert.match(source, new RegExp(`\\bclass ${owner}\\b`), `${file} declares class ${owner}`);
    assert.match(source, new RegExp(`^\\s*(export )?(async )?(function )?(private |readonly )?(async )?${member}\\s*[(<]`, 'm'), `${file} declares ${name}`);
  }
});
