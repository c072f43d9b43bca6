/**
 * `pinhole`: the headless engine's command line. Each subcommand lives in its own module that
 * exports `run(argv): Promise<number>`, loaded only when used; `pinhole CMD --help` loads none.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { USAGE } from './usage.js';

const COMMANDS: Record<keyof typeof USAGE, { module: string; summary: string }> = {
  connect: { module: './connect.js', summary: 'connect LINK|PROFILE | --server H:P ... run the local proxy through a gateway' },
  forward: { module: './forward.js', summary: 'forward -L [BIND:]PORT:HOST:PORT LINK   forward one TCP port through a gateway' },
  console: { module: './console.js', summary: 'console [--listen 127.0.0.1:PORT]       the UI in a browser against this engine' },
  profile: { module: './profile.js', summary: 'profile ...                             manage stored profiles' },
};

const usage = (): string =>
  ['usage: pinhole <command> [options]', '', ...Object.values(COMMANDS).map((c) => `  pinhole ${c.summary}`), '', 'Run `pinhole <command> --help` for the options of one command.'].join('\n');

/** The module file beside this one, whichever extension this build runs from (.ts with tsx, .js compiled). */
const moduleExists = (specifier: string): boolean => {
  const js = fileURLToPath(new URL(specifier, import.meta.url));
  return existsSync(js) || existsSync(js.replace(/\.js$/, '.ts'));
};

export const main = async (argv: string[]): Promise<number> => {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return command === undefined ? 2 : 0;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command as keyof typeof COMMANDS] : undefined;
  if (!entry) {
    process.stderr.write(`pinhole: unknown command '${command}'.\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE[command as keyof typeof USAGE]}\n`);
    return 0;
  }
  if (!moduleExists(entry.module)) {
    process.stderr.write(`pinhole: '${command}' is not available in this build.\n`);
    return 2;
  }
  const mod = (await import(entry.module)) as { run: (argv: string[]) => Promise<number> };
  return mod.run(rest);
};

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A finished command should not linger on a forgotten handle.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  async (err: unknown) => {
    const { reportStartFailure } = await import('../../node/start-failure.js');
    process.exitCode = reportStartFailure('pinhole', err, { logWhere: 'on standard error, just above this line' });
  },
);
