/**
 * A real Pinhole gateway, started through its command line exactly as an operator would:
 * `init` in a temporary directory, `user add` per user, `run` on 127.0.0.1 port 0, and
 * `provision` for links that point at it (or at a relay in front of it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insideNetns } from './netns.js';
import { Program, gatewayBin, listenPortOf, runCommandOk, type ExitStatus, type LogRecord } from './processes.js';

export interface GatewayUser {
  name: string;
  password: string;
}

export interface GatewayOptions {
  hostname?: string;
  users?: GatewayUser[];
  /** `--restrict-to HOST:PORT` routes: exactly these destinations are allowed. */
  restrictTo?: string[];
  /** Any further `run` flags. */
  runArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Run inside this network namespace (test/support/netns.ts); `port` is then a port on the namespace's loopback. */
  netns?: string;
  /** Another `run` on this gateway's directory (same certificate, users): a second gateway of one fleet. The directory stays its owner's. */
  sameDirAs?: Pick<RunningGateway, 'dir' | 'hostname' | 'fingerprint' | 'users'>;
  /** Runs on the initialised directory before `run` (edit gateway.yaml, add key files). */
  prepare?: (dir: string) => Promise<void>;
}

export interface RunningGateway {
  port: number;
  dir: string;
  hostname: string;
  /** Certificate SHA-256 as printed by `init` (64 hex, upper-case, no colons). */
  fingerprint: string;
  users: GatewayUser[];
  program: Program;
  /** `provision` for a user (the first by default), pointing at `endpoint` (this gateway by default), or at every one of `endpoints` in order. */
  provision: (options?: { user?: GatewayUser; endpoint?: string; endpoints?: string[] }) => Promise<string>;
  /** Access log records so far (one per tunnel or request: user, target, status, bytes, proto, connId). */
  accessLog: () => LogRecord[];
  stop: () => Promise<ExitStatus>;
}

export const DEFAULT_USER: GatewayUser = { name: 'alice', password: 'correct horse battery staple 7' };

const fingerprintFrom = (text: string): string => {
  const match = /\b((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{64})\b/.exec(text);
  if (!match?.[1]) throw new Error(`init printed no SHA-256 fingerprint:\n${text}`);
  return match[1].replace(/:/g, '').toUpperCase();
};

export const isAccessRecord = (record: LogRecord): boolean => 'target' in record && 'status' in record && 'bytesUp' in record;

/** Runs one gateway CLI command to completion. */
export const gatewayCommand = (args: string[], stdin?: string, env?: NodeJS.ProcessEnv): ReturnType<typeof runCommandOk> =>
  runCommandOk(gatewayBin, { name: 'pinhole-gateway', args, stdin, env });

export const startGateway = async (options: GatewayOptions = {}): Promise<RunningGateway> => {
  const shared = options.sameDirAs;
  const hostname = shared?.hostname ?? options.hostname ?? 'gw.example.test';
  const users = shared?.users ?? options.users ?? [DEFAULT_USER];
  const env = options.env ?? process.env;
  let dir: string;
  let fingerprint: string;
  if (shared) {
    ({ dir, fingerprint } = shared);
  } else {
    dir = await mkdtemp(join(tmpdir(), 'pinhole-gateway-'));
    const init = await gatewayCommand(['init', '--dir', dir, '--hostname', hostname], undefined, env);
    fingerprint = fingerprintFrom(init.stdout);
    for (const user of users) {
      await gatewayCommand(['user', 'add', user.name, '--dir', dir, '--password-stdin'], `${user.password}\n`, env);
    }
  }
  const removeDir = (): Promise<void> => (shared ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  await options.prepare?.(dir);
  const args = ['run', '--dir', dir, '--listen', '127.0.0.1:0', ...(options.restrictTo ?? []).flatMap((r) => ['--restrict-to', r]), ...(options.runArgs ?? [])];
  const command = options.netns === undefined ? { command: gatewayBin, args } : insideNetns(options.netns, gatewayBin, args);
  const program = new Program(command.command, { name: 'pinhole-gateway', args: command.args, env });
  let port: number;
  try {
    port = listenPortOf(await program.waitForLog((r) => r.msg === 'The gateway is listening.' && typeof r['listen'] === 'string', 60_000, '"The gateway is listening."'));
  } catch (err) {
    await program.stop('SIGKILL');
    await removeDir();
    throw err;
  }
  let stopped: Promise<ExitStatus> | undefined;
  return {
    port,
    dir,
    hostname,
    fingerprint,
    users,
    program,
    provision: async ({ user = users[0] ?? DEFAULT_USER, endpoint = `127.0.0.1:${port}`, endpoints = [endpoint] } = {}) => {
      const result = await gatewayCommand(['provision', '--dir', dir, '--user', user.name, ...endpoints.flatMap((e) => ['--endpoint', e]), '--password-stdin'], `${user.password}\n`, env);
      const lines = result.stdout.split('\n').filter((l) => l.trim() !== '');
      if (lines.length !== 1 || !lines[0]?.startsWith('pinhole://')) {
        throw new Error(`provision should print exactly one pinhole:// line, printed:\n${result.stdout}`);
      }
      return lines[0].trim();
    },
    accessLog: () => program.records.filter(isAccessRecord),
    stop: () =>
      (stopped ??= program.stop('SIGTERM', 10_000).then(async (status) => {
        await removeDir();
        return status;
      })),
  };
};
