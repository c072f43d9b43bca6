/**
 * What `pinhole connect` prints: human lines at a terminal (a real pseudo-terminal from
 * util-linux `script`) or with --log-format human; JSON lines into a pipe or with --log-format
 * json. The link points at a closed port, so each run fails fast on its own: no gateway needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLink } from '../../shared/link.js';
import { freePort, pinholeBin, runCommand } from '../../test/support/processes.js';

// The level may be coloured at a terminal (ESC [ n m around it).
const ESC = String.fromCharCode(27);
const HUMAN = new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] (?:${ESC}\\[\\d+m)?(INFO|WARN|ERROR)(?:${ESC}\\[\\d+m)?: `);

const setup = async () => {
  const home = await mkdtemp(join(tmpdir(), 'pinhole-logs-'));
  const link = encodeLink({ endpoints: [`127.0.0.1:${await freePort()}`], serverName: 'gw.example.test', pin: 'AB'.repeat(32), user: 'alice', secret: 'log test pw', transport: 'h2' });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, PINHOLE_CONFIG_DIR: join(home, 'config'), LANG: 'C.UTF-8', TERM: 'dumb' };
  return { link, env, done: () => rm(home, { recursive: true, force: true }) };
};

const lines = (text: string): string[] => text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('pinhole connect:'));

/** Runs `pinhole ARGS` with its stdout on a pseudo-terminal; returns what the terminal showed. */
const onTerminal = async (args: string[], env: NodeJS.ProcessEnv): Promise<string> => {
  const quoted = [pinholeBin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = await runCommand('script', { args: ['-qfec', quoted, '/dev/null'], env });
  return result.stdout;
};

test('into a pipe, connect prints JSON lines; the failure reads as a sentence', async () => {
  const { link, env, done } = await setup();
  try {
    const result = await runCommand(pinholeBin, { args: ['connect', link, '--listen', '127.0.0.1:0'], env });
    assert.equal(result.code, 1);
    const records = lines(result.stdout).map((line) => JSON.parse(line) as { level: string; msg: string; state?: string });
    assert.ok(records.length >= 2);
    const failed = records.find((r) => r.state === 'error');
    assert.match(failed?.msg ?? '', /^Connection failed: The Pinhole gateway could not be reached/);
    assert.ok(!records.some((r) => /is now/.test(r.msg)), 'no "The connection is now error."');
    assert.ok(!result.stdout.includes('log test pw'));
  } finally {
    await done();
  }
});

test('at a terminal, connect prints human lines: time, level, sentence, fields', async () => {
  const { link, env, done } = await setup();
  try {
    const shown = lines(await onTerminal(['connect', link, '--listen', '127.0.0.1:0'], env));
    assert.ok(shown.length >= 2, shown.join('\n'));
    for (const line of shown) assert.match(line, HUMAN);
    assert.ok(shown.some((line) => /Connecting to the gateway\..*"gateway":"gw\.example\.test"/.test(line)));
    assert.ok(shown.some((line) => /WARN.*Connection failed: The Pinhole gateway could not be reached/.test(line)));
  } finally {
    await done();
  }
});

test('--log-format json at a terminal and --log-format human into a pipe do what they say', async () => {
  const { link, env, done } = await setup();
  try {
    const json = lines(await onTerminal(['connect', link, '--listen', '127.0.0.1:0', '--log-format', 'json'], env));
    assert.ok(json.length >= 2);
    for (const line of json) assert.equal((JSON.parse(line) as { name: string }).name, 'pinhole');
    const human = await runCommand(pinholeBin, { args: ['connect', link, '--listen', '127.0.0.1:0', '--log-format', 'human'], env });
    const shown = lines(human.stdout);
    assert.ok(shown.length >= 2);
    for (const line of shown) assert.match(line, HUMAN);
    const wrong = await runCommand(pinholeBin, { args: ['connect', link, '--log-format', 'pretty'], env });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--log-format must be human or json/);
  } finally {
    await done();
  }
});
