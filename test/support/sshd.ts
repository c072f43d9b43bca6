/**
 * A real OpenSSH server for tests: its own host key, config and authorized key in a temporary
 * directory, listening on 127.0.0.1 (a port that was free a moment ago: sshd cannot report port 0).
 * `ssh(...)` runs the real client with the test key and no known_hosts.
 */
import { mkdir, mkdtemp, readFile, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Program, freePort, runCommand, runCommandOk, waitForPort, type CommandResult } from './processes.js';

export interface RunningSshd {
  port: number;
  dir: string;
  /** The client's private key (authorized on this server). */
  keyPath: string;
  /** The host public key line as `ssh-keyscan` prints it: "ssh-ed25519 AAAA...". */
  hostKey: string;
  program: Program;
  /** `ssh ... root@127.0.0.1 COMMAND` with the test key; `options` are extra `-o`/`-p` arguments. */
  ssh: (args: string[], timeoutMs?: number) => Promise<CommandResult>;
  stop: () => Promise<unknown>;
}

/** The ssh client options every test and the benchmark use: this key only, no config, no prompts. */
export const sshClientArgs = (keyPath: string): string[] => [
  '-F', '/dev/null',
  '-i', keyPath,
  '-o', 'IdentitiesOnly=yes',
  '-o', 'StrictHostKeyChecking=no',
  '-o', 'UserKnownHostsFile=/dev/null',
  '-o', 'BatchMode=yes',
  '-o', 'ConnectTimeout=15',
  '-o', 'LogLevel=ERROR',
];

export const startSshd = async (): Promise<RunningSshd> => {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-sshd-'));
  await chmod(dir, 0o755);
  const hostKeyPath = join(dir, 'host_ed25519');
  const keyPath = join(dir, 'client_ed25519');
  await runCommandOk('ssh-keygen', { args: ['-q', '-t', 'ed25519', '-N', '', '-C', 'pinhole-test-host', '-f', hostKeyPath] });
  await runCommandOk('ssh-keygen', { args: ['-q', '-t', 'ed25519', '-N', '', '-C', 'pinhole-test-client', '-f', keyPath] });
  const authorized = join(dir, 'authorized_keys');
  await writeFile(authorized, await readFile(`${keyPath}.pub`, 'utf8'), { mode: 0o644 });
  const hostKey = (await readFile(`${hostKeyPath}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKeyPath}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const program = new Program('/usr/sbin/sshd', { name: 'sshd', args: ['-D', '-e', '-f', config] });
  try {
    await waitForPort(port, 15_000, () => program.running);
  } catch (err) {
    await program.stop('SIGKILL');
    throw new Error(`sshd did not start: ${(err as Error).message}\n${program.transcript()}`, { cause: err });
  }
  return {
    port,
    dir,
    keyPath,
    hostKey,
    program,
    ssh: (args, timeoutMs = 30_000) =>
      runCommand('ssh', {
        name: 'ssh',
        args: [...sshClientArgs(keyPath), ...args],
        timeoutMs,
      }),
    stop: () => program.stop('SIGTERM', 5_000),
  };
};
