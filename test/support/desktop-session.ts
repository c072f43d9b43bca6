/**
 * A private Linux desktop session for tests that need the Secret Service or GNOME settings: a
 * fresh HOME, its own session bus (`dbus-run-session`), optionally an unlocked GNOME Keyring on
 * it, and gsettings in a private dconf. Programs started with `session.env` see this session
 * only, never the machine's keyring or settings, and get signals straight from the test (nothing
 * in between to forward them). `stop()` ends the bus, which the keyring daemon and dconf-service
 * follow, and removes HOME. Free of test-framework imports, like processes.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit, runCommandOk, type CommandResult } from './processes.js';

export interface DesktopSessionOptions {
  /** Names the temporary HOME: /tmp/pinhole-NAME-XXXXXX. */
  name?: string;
  /** Start a GNOME Keyring (Secret Service) on the bus, unlocked, as a logged-in user has it. */
  keyring?: boolean;
  /** PINHOLE_DESKTOP: which system-proxy adapter Pinhole uses ('gnome' changes gsettings). */
  desktop?: string;
}

export interface DesktopSession {
  readonly home: string;
  /** PINHOLE_CONFIG_DIR (created, empty). */
  readonly configDir: string;
  /** The environment of a program in this session: HOME, XDG folders, the bus, the config folder. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs a short command in the session; throws with its output unless it exits 0. */
  run(command: string, args: string[], options?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** `gsettings ARGS...` in the session's private dconf; resolves with what it printed, trimmed. */
  gsettings(...args: string[]): Promise<string>;
  /** Ends the bus and everything on it, then removes HOME. Safe to call twice. */
  stop(): Promise<void>;
}

const KEYRING_PASSWORD = 'pinhole-test-keyring';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * The program dbus-run-session runs: unlock the keyring and wait until it answers on the bus (a
 * call before that would start a second, locked one), say where the bus is, then hold the
 * session open until the test closes stdin (or dies). When it exits, dbus-run-session stops the bus.
 */
const holderScript = (keyring: boolean): string =>
  [
    ...(keyring
      ? [
          `echo ${KEYRING_PASSWORD} | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 3`,
          'gdbus wait --session --timeout 20 org.freedesktop.secrets || exit 4',
        ]
      : []),
    'printf "address=%s\\n" "$DBUS_SESSION_BUS_ADDRESS"',
    'exec cat >/dev/null',
  ].join('\n');

/** SIGKILL to every process still in the session's process group (all started by it, none else). */
const killGroup = (pgid: number | undefined): void => {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // nothing left
  }
};

/** Resolves once every process holding the holder's output pipes is gone; false after `ms`. */
const closedWithin = (closed: Promise<unknown>, ms: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    closed.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

/** The bus address the holder prints; rejects if the holder ends first or takes too long. */
const busAddress = (holder: ChildProcess, closed: Promise<unknown>, output: () => string): Promise<string> =>
  new Promise((resolve, reject) => {
    let seen = '';
    let waiting = true;
    const done = (): void => {
      waiting = false;
      clearTimeout(timer);
      holder.stdout?.off('data', onData).resume();
    };
    const onData = (chunk: string): void => {
      seen += chunk;
      const match = /^address=(.+)$/m.exec(seen);
      if (!match?.[1]) return;
      done();
      resolve(match[1]);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the desktop session was not ready within ${START_TIMEOUT_MS} ms:\n${output()}`));
    }, START_TIMEOUT_MS);
    holder.stdout?.setEncoding('utf8').on('data', onData);
    void closed.then(() => {
      if (!waiting) return;
      done();
      reject(new Error(`dbus-run-session ended (code=${holder.exitCode} signal=${holder.signalCode}) before the session was ready:\n${output()}`));
    });
  });

export const startDesktopSession = async ({ name = 'desktop', keyring = false, desktop }: DesktopSessionOptions = {}): Promise<DesktopSession> => {
  const home = await mkdtemp(join(tmpdir(), `pinhole-${name}-`));
  const configDir = join(home, 'pinhole');
  await mkdir(configDir);
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_RUNTIME_DIR: home,
    GSETTINGS_BACKEND: 'dconf',
    LANG: 'C.UTF-8',
  };
  // Its own process group: the session's daemons stay in it, so stop() can end them all, and only them.
  // Killed with its group if this process ends before stop() runs (a test that timed out).
  const holder = killOnExit(
    spawn('dbus-run-session', ['--', 'sh', '-c', holderScript(keyring)], {
      env: baseEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  const closed = once(holder, 'close').catch(() => undefined);
  let stderr = '';
  holder.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  holder.on('error', (err) => (stderr += `spawn failed: ${err.message}\n`));
  holder.stdin.on('error', () => undefined);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      holder.stdin.end();
      let ended = await closedWithin(closed, STOP_TIMEOUT_MS);
      // A keyring daemon that missed the bus going away, or a session that would not end.
      killGroup(holder.pid);
      if (!ended) ended = await closedWithin(closed, STOP_TIMEOUT_MS);
      await rm(home, { recursive: true, force: true, maxRetries: 3 });
      if (!ended) throw new Error(`the desktop session in ${home} did not end:\n${stderr}`);
    })());

  try {
    const address = await busAddress(holder, closed, () => stderr);
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      DBUS_SESSION_BUS_ADDRESS: address,
      PINHOLE_CONFIG_DIR: configDir,
      ...(desktop ? { PINHOLE_DESKTOP: desktop } : {}),
    };
    const run: DesktopSession['run'] = (command, args, options = {}) => runCommandOk(command, { args, env, ...options });
    const gsettings: DesktopSession['gsettings'] = async (...args) => (await run('gsettings', args)).stdout.trim();
    return { home, configDir, env, run, gsettings, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
};

