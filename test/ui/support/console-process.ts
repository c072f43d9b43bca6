/**
 * `bin/pinhole console` as a user runs it on a headless Linux box, with a fresh HOME and config
 * folder and a real GNOME Keyring (Secret Service) inside its own D-Bus session, so passwords
 * really go to a keychain. Resolves with the one line it prints: the URL with the one-time token.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Program, pinholeBin } from '../../support/processes.js';

/**
 * What `dbus-run-session` does, plus clean-up: a private session bus, an unlocked GNOME Keyring
 * on it, and the console. SIGTERM goes to the console (dbus-run-session would not forward it),
 * and the bus, which the keyring daemon follows, is stopped after the console has exited.
 */
const SESSION_SCRIPT = [
  'set -u',
  'bus=$(dbus-daemon --session --fork --print-address=1 --print-pid=1) || exit 1',
  'export DBUS_SESSION_BUS_ADDRESS=$(printf "%s\\n" "$bus" | sed -n 1p)',
  'bus_pid=$(printf "%s\\n" "$bus" | sed -n 2p)',
  'echo pinhole-test-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null',
  '"$0" console --listen 127.0.0.1:0 &',
  'child=$!',
  "trap 'kill -TERM $child 2>/dev/null' TERM INT",
  'wait $child; status=$?',
  'if kill -0 $child 2>/dev/null; then wait $child; status=$?; fi',
  'kill -TERM $bus_pid 2>/dev/null',
  'exit $status',
].join('\n');

export interface ConsoleProcess {
  url: string;
  home: string;
  configDir: string;
  program: Program;
  stop(): Promise<void>;
}

export const startConsoleProcess = async (): Promise<ConsoleProcess> => {
  const home = await mkdtemp(join(tmpdir(), 'pinhole-console-home-'));
  const configDir = join(home, 'config');
  await mkdir(configDir, { recursive: true });
  const program = new Program('bash', {
    name: 'pinhole console',
    args: ['-c', SESSION_SCRIPT, pinholeBin],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_DATA_HOME: join(home, '.local', 'share'),
      XDG_RUNTIME_DIR: home,
      PINHOLE_CONFIG_DIR: configDir,
      LANG: 'C.UTF-8',
    },
  });
  const stop = async (): Promise<void> => {
    await program.stop('SIGTERM', 15_000);
    await rm(home, { recursive: true, force: true });
  };
  try {
    const line = await program.waitForLine((l) => l.stream === 'stdout' && /^http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(l.text), 120_000, 'the console URL');
    return { url: line.text.trim(), home, configDir, program, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
