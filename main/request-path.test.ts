/**
 * docs/request-path.md's Client section matches the code: at most eight steps, each a function
 * declared in the file the step names, and each step after the first called (in code, not a
 * comment) from the file of an earlier step or its own (an event handler's class): the path is one
 * chain of calls, not a list of names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (file: string): string => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

interface Step {
  readonly owner: string | undefined;
  readonly member: string;
  readonly file: string;
}

const clientSteps = (): Step[] => {
  const section = read('docs/request-path.md').split(/^## /m).find((part) => part.startsWith('Client\n'));
  assert.ok(section, 'docs/request-path.md has a Client section');
  const steps: Step[] = [];
  for (const line of section.split('\n')) {
    const step = /^(\d+)\. `(?:(\w+)\.)?(\w+)` \(`([^`]+)`\)/.exec(line);
    if (step === null) continue;
    assert.equal(Number(step[1]), steps.length + 1, `steps are numbered in order (${line})`);
    steps.push({ owner: step[2], member: step[3] as string, file: step[4] as string });
  }
  return steps;
};

test('the Client request path in docs/request-path.md is at most 8 functions, each declared where it says and called from the path', () => {
  const steps = clientSteps();
  assert.ok(steps.length >= 1 && steps.length <= 8, `1 to 8 steps, saw ${steps.length}`);
  const sources = new Map(steps.map(({ file }) => [file, read(file)]));
  for (const [index, { owner, member, file }] of steps.entries()) {
    const source = sources.get(file) as string;
    if (owner !== undefined) assert.match(source, new RegExp(`\\bclass ${owner}\\b`), `${file} declares class ${owner}`);
    // A declaration's line opens its body (a call on a line of its own ends with ';').
    const declared = new RegExp(`^\\s*(?:export )?(?:(?:private|async|function|const) )*${member}\\s*(?:=\\s*(?:async )?\\(|[(<]).*(?:\\{|=>)$`, 'm');
    assert.match(source, declared, `${file} declares ${member}`);
    if (index === 0) continue;
    const called = new RegExp(`[.\\s(]${member}\\(`);
    const code = (line: string): boolean => !/^\s*(\*|\/\/|\/\*)/.test(line);
    const callers = steps.slice(0, index + 1).map((step) => sources.get(step.file) as string);
    const caller = callers.some((text) => text.split('\n').some((line) => code(line) && called.test(line) && !declared.test(line)));
    assert.ok(caller, `${member} (step ${index + 1}) is called from an earlier step's file or its own`);
  }
});
