/**
 * Every message that names a command or a flag names one that exists: the error table's
 * sentences, the other sentences a user reads about keychains and first runs, the UI catalogues,
 * and the help both command lines print, checked against what their parsers really accept
 * (test/cli/parsers.ts reads the parsers, so flags added to them later count without a list here).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS } from '../../shared/errors.js';
import { flattenCatalogue } from '../../shared/i18n/catalogue-keys.js';
import { NO_PROFILE_SENTENCE } from '../../main/cli/connect.js';
import { UNAVAILABLE_SENTENCE } from '../../main/keychain/keychain.js';
import { NO_SECRET_STORE_SENTENCE } from '../../main/keychain/secret-store-switch.js';
import { gatewayBin, pinholeBin, repoRoot, runCommandOk } from '../support/processes.js';
import { readGatewayCli, readPinholeCli, type Cli } from './parsers.js';
import { mentionsIn, type CliName, type Mention } from './mentions.js';

let clis: Record<CliName, Cli>;

before(async () => {
  clis = { pinhole: await readPinholeCli(), 'pinhole-gateway': await readGatewayCli() };
});

/** What is wrong with a mention, or undefined. */
const problem = (m: Mention): string | undefined => {
  const all = (cli: Cli) => [...cli.values()];
  if (m.cli === undefined) {
    const known = [...all(clis.pinhole), ...all(clis['pinhole-gateway'])].some((c) => m.flag !== undefined && c.flags.has(m.flag));
    return m.flag !== undefined && !known ? `--${m.flag} is a flag of no command` : undefined;
  }
  const cli = clis[m.cli];
  const [command, ...sub] = m.words;
  if (command === undefined) return m.flag !== undefined && !all(cli).some((c) => c.flags.has(m.flag ?? '')) ? `${m.cli} has no command with --${m.flag}` : undefined;
  const entry = cli.get(command);
  if (!entry) return `${m.cli} has no command "${command}"`;
  const unknown = sub.find((word) => !entry.words.has(word));
  if (unknown) return `${m.cli} ${command} has no subcommand "${unknown}"`;
  if (m.flag !== undefined && !entry.flags.has(m.flag)) return `${m.cli} ${command} has no flag --${m.flag}`;
  return undefined;
};

const problems = (text: string, own?: { cli: CliName; words: string[] }): string[] =>
  mentionsIn(text, own).flatMap((m) => {
    const found = problem(m);
    return found ? [`${found}: "${m.line.trim()}"`] : [];
  });

test('the parsers are read: both command lines, their commands and flags', () => {
  assert.deepEqual([...clis.pinhole.keys()].sort(), ['connect', 'console', 'doctor', 'forward', 'profile']);
  assert.ok(clis.pinhole.get('console')?.flags.has('secrets-file'), 'console takes --secrets-file');
  assert.ok(clis.pinhole.get('profile')?.words.has('import'));
  for (const command of ['init', 'user', 'provision', 'run']) assert.ok(clis['pinhole-gateway'].has(command), command);
  assert.ok(clis['pinhole-gateway'].get('run')?.flags.has('sni'), 'flags spread in from gateway/mux/config.ts count');
  assert.ok(clis['pinhole-gateway'].get('run')?.flags.has('log-format'));
});

test('the checker finds a wrong command, subcommand or flag', () => {
  assert.deepEqual(problems('Run `pinhole console --secret-file FILE`.'), ['pinhole console has no flag --secret-file: "Run `pinhole console --secret-file FILE`."']);
  assert.equal(problems('Use `pinhole profile delete NAME`.').length, 1);
  assert.equal(problems('Use `pinhole-gateway frobnicate --dir DIR`.').length, 2);
  assert.equal(problems('Pass --no-such-flag.').length, 1);
  assert.deepEqual(problems('Run `pinhole console` again, or `pinhole-gateway user add NAME --dir DIR`.'), []);
  assert.deepEqual(problems('usage: pinhole connect LINK [--listen H:P]\n  --secrets-file FILE   see `pinhole profile import`\n  --log-format human|json'), []);
});

test('every sentence in the error table names commands and flags that exist', () => {
  assert.deepEqual(
    Object.entries(ERRORS).flatMap(([code, { sentence }]) => problems(sentence).map((p) => `${code}: ${p}`)),
    [],
  );
});

test('the keychain, secrets-file and first-run sentences name commands and flags that exist', () => {
  assert.deepEqual([UNAVAILABLE_SENTENCE, NO_SECRET_STORE_SENTENCE, NO_PROFILE_SENTENCE].flatMap((s) => problems(s)), []);
  // The sentence that sends people to --secrets-file names commands that take it.
  const named = mentionsIn(UNAVAILABLE_SENTENCE).filter((m) => m.flag === undefined).map((m) => m.words[0]);
  assert.ok(named.length >= 3);
  for (const command of named) assert.ok(clis.pinhole.get(command ?? '')?.flags.has('secrets-file'), `pinhole ${command} takes --secrets-file`);
});

test('the UI catalogues name flags that exist, in every language', () => {
  for (const language of ['en', 'es', 'zh-CN']) {
    const catalogue = flattenCatalogue(JSON.parse(readFileSync(join(repoRoot, 'shared', 'i18n', `${language}.json`), 'utf8')));
    assert.deepEqual([...catalogue.entries()].flatMap(([key, text]) => problems(text).map((p) => `${language} ${key}: ${p}`)), []);
  }
});

test('the help of pinhole, of each of its commands, and of pinhole-gateway names commands and flags that exist', async () => {
  const found: string[] = [];
  const top = await runCommandOk(pinholeBin, { args: ['--help'] });
  found.push(...problems(top.stdout, { cli: 'pinhole', words: [] }));
  for (const command of clis.pinhole.keys()) {
    const help = await runCommandOk(pinholeBin, { args: [command, '--help'] });
    assert.match(help.stdout, new RegExp(`pinhole ${command}`), `pinhole ${command} --help prints its usage`);
    found.push(...problems(help.stdout, { cli: 'pinhole', words: [command] }).map((p) => `pinhole ${command} --help: ${p}`));
  }
  const gateway = await runCommandOk(gatewayBin, { args: ['--help'] });
  found.push(...problems(gateway.stdout, { cli: 'pinhole-gateway', words: [] }).map((p) => `pinhole-gateway --help: ${p}`));
  assert.deepEqual(found, []);
});

test("the usage and error messages in each command's code name commands and flags that exist", () => {
  const found: string[] = [];
  for (const [name, cli] of Object.entries(clis) as [CliName, Cli][]) {
    for (const [command, entry] of cli) {
      for (const message of entry.messages) found.push(...problems(message, { cli: name, words: [command] }).map((p) => `${name} ${command}: ${p}`));
    }
  }
  const messages = Object.values(clis).flatMap((cli) => [...cli.values()].flatMap((entry) => entry.messages));
  assert.ok(messages.length >= 20, `read ${messages.length} messages`);
  assert.ok(clis.pinhole.get('connect')?.messages.some((m) => m.startsWith('--server needs --user NAME')));
  assert.deepEqual(found, []);
});
