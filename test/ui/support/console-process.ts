/**
 * `bin/pinhole console` as a user runs it on a headless Linux box, with a fresh HOME and config
 * folder and a real GNOME Keyring (Secret Service) inside its own D-Bus session, so passwords
 * really go to a keychain. Resolves with the one line it prints: the URL with the one-time token.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDesktopSession } from '../../support/desktop-session.js';
import { Program, pinholeBin } from '../../support/processes.js';

export interface ConsoleProcess {
  url: string;
  home: string;
  configDir: string;
  program: Program;
  stop(): Promise<void>;
}

/** Starts `pinhole console` with `env` and waits for its URL; `stop` ends it, then runs `cleanup`. */
const launch = async (env: NodeJS.ProcessEnv, dirs: { home: string; configDir: string }, args: string[], cleanup: () => Promise<void>): Promise<ConsoleProcess> => {
  const program = new Program(pinholeBin, { name: 'pinhole console', args: ['console', '--listen', '127.0.0.1:0', ...args], env });
  const stop = async (): Promise<void> => {
    await program.stop('SIGTERM', 15_000);
    await cleanup();
  };
  try {
    const line = await program.waitForLine((l) => l.stream === 'stdout' && /^http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(l.text), 120_000, 'the console URL');
    return { url: line.text.trim(), ...dirs, program, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};

export const startConsoleProcess = async (): Promise<ConsoleProcess> => {
  const session = await startDesktopSession({ name: 'console-home', keyring: true });
  return launch(session.env, session, [], () => session.stop());
};

/** A headless box's HOME and config folder, kept across console restarts; `remove()` deletes them. */
export interface HeadlessHome {
  home: string;
  configDir: string;
  remove(): Promise<void>;
}

export const makeHeadlessHome = async (): Promise<HeadlessHome> => {
  const home = await mkdtemp(join(tmpdir(), 'pinhole-headless-'));
  const configDir = join(home, '.config', 'pinhole');
  await mkdir(configDir, { recursive: true });
  return { home, configDir, remove: () => rm(home, { recursive: true, force: true }) };
};

/**
 * `pinhole console` on a headless box: no D-Bus session (no DBUS_SESSION_BUS_ADDRESS, no
 * DISPLAY), so no keyring can answer. `extraEnv` and `args` add e.g. --secrets-file and its
 * passphrase. Stopping it leaves the home in place for the next start.
 */
export const startHeadlessConsole = (home: HeadlessHome, { args = [], extraEnv = {} }: { args?: string[]; extraEnv?: NodeJS.ProcessEnv } = {}): Promise<ConsoleProcess> => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home.home,
    XDG_CONFIG_HOME: join(home.home, '.config'),
    XDG_RUNTIME_DIR: home.home,
    LANG: 'C.UTF-8',
    ...extraEnv,
  };
  return launch(env, home, args, () => Promise.resolve());
};
