/**
 * `pinhole`: the headless engine's command line. Each subcommand lives in its own module that
 * exports `run(argv): Promise<number>`, loaded only when used; `pinhole CMD --help` loads none.
 */
import { USAGE } from './usage.js';

type Command = { run: (argv: string[]) => Promise<number> };

// Each import is written out (not built from a string) so the bundler sees it: bin/ runs a bundle
// (scripts/build.mjs) in which every command is a chunk loaded on demand.
const COMMANDS: Record<keyof typeof USAGE, { load: () => Promise<Command>; summary: string }> = {
  connect: { load: () => import('./connect.js'), summary: 'connect LINK|PROFILE | --server H:P ... run the local proxy through a gateway' },
  forward: { load: () => import('./forward.js'), summary: 'forward -L [BIND:]PORT:HOST:PORT LINK   forward one TCP port through a gateway' },
  console: { load: () => import('./console.js'), summary: 'console [--listen 127.0.0.1:PORT]       the UI in a browser against this engine' },
  doctor: { load: () => import('./doctor.js'), summary: 'doctor [PROFILE|--link-file FILE|-] [--json] [--bundle FILE]   check each hop to the gateway' },
  profile: { load: () => import('./profile.js'), summary: 'profile ...                             manage stored profiles' },
};

const usage = (): string =>
  ['usage: pinhole <command> [options]', '', ...Object.values(COMMANDS).map((c) => `  pinhole ${c.summary}`), '', 'Run `pinhole <command> --help` for the options of one command.'].join('\n');

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
  return (await entry.load()).run(rest);
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
