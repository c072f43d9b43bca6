/**
 * Real programs under test (bin/pinhole, bin/pinhole-gateway, squid, stunnel4): spawn one, keep
 * every line it prints, parse JSON log lines, wait for a line that says it is ready, and stop it
 * by its own PID only. Free of test-framework imports so bench/ can use it too.
 *
 * No program outlives the process that started it, however that one ends (a test that timed out,
 * a failed assertion, a runner that moved on): each program leads its own process group (its
 * cluster workers and helpers with it), and
 * - the 'exit' handler below SIGKILLs every group still running, synchronously, and so does a
 *   SIGTERM, SIGINT or SIGHUP to this process (which then dies of it as it would have);
 * - where util-linux's setpriv exists, the kernel SIGKILLs the program when its parent dies
 *   (PR_SET_PDEATHSIG), which covers a parent killed by a signal too, when no handler runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const pinholeBin = join(repoRoot, 'bin', 'pinhole');
export const gatewayBin = join(repoRoot, 'bin', 'pinhole-gateway');

/** One JSON log line as printed by the product (pino), or `undefined` fields for plain text. */
export type LogRecord = Record<string, unknown> & { msg?: string };

export interface ProgramLine {
  stream: 'stdout' | 'stderr';
  text: string;
  /** The parsed JSON object when the line is one. */
  json: LogRecord | undefined;
  at: number;
}

export interface ProgramOptions {
  name?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, then stdin is closed. Stdin is closed immediately when omitted. */
  stdin?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Programs started and not yet exited: killed, with their groups, when this process exits. */
const live = new Set<Program>();

const killGroup = (pid: number | undefined): void => {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
};

/** Children a test spawned itself (not as a Program): killed, with their groups, when this process exits. */
const spawned = new Set<ChildProcess>();

/**
 * For a child that cannot be a Program (a session holder that needs its stdin open, a client
 * whose executable /proc must name): it, and its process group when it leads one, are SIGKILLed
 * when this process exits or is ended by a signal, as Programs are. Returns the child.
 */
export const killOnExit = <C extends ChildProcess>(child: C): C => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return child;
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  return child;
};

const killAll = (): void => {
  for (const program of live) killGroup(program.pid);
  for (const child of spawned) {
    killGroup(child.pid);
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
};
process.on('exit', killAll);
// A test file ended by a signal (a runner cancelling it, a CI timeout) runs no 'exit' handler:
// kill what it started, then die of the same signal as if nothing had been listening.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

const SETPRIV = '/usr/bin/setpriv';
const dieWithParent = existsSync(SETPRIV);

export class Program {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: ProgramLine[] = [];
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private readonly listeners = new Set<(line: ProgramLine) => void>();

  constructor(command: string, options: ProgramOptions = {}) {
    this.name = options.name ?? command;
    // setpriv execs the command: the PID is the program's own.
    const [file, args] = dieWithParent ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...(options.args ?? [])]] : [command, options.args ?? []];
    this.child = spawn(file, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        // What the program started in its group (cluster workers) goes with it.
        killGroup(this.child.pid);
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
      this.child.once('error', (err) => {
        live.delete(this);
        this.push('stderr', `spawn failed: ${err.message}`);
        this.exitStatus ??= { code: 127, signal: null };
        resolve(this.exitStatus);
      });
    });
    this.collect(this.child.stdout, 'stdout');
    this.collect(this.child.stderr, 'stderr');
    this.child.stdin?.on('error', () => undefined);
    this.child.stdin?.end(options.stdin ?? '');
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  get status(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** Parsed JSON log lines so far (stdout and stderr). */
  get records(): LogRecord[] {
    return this.lines.flatMap((line) => (line.json ? [line.json] : []));
  }

  get stdout(): string {
    return this.lines.filter((l) => l.stream === 'stdout').map((l) => l.text).join('\n');
  }

  get stderr(): string {
    return this.lines.filter((l) => l.stream === 'stderr').map((l) => l.text).join('\n');
  }

  /** Every line the program printed, for a failure report. */
  transcript(): string {
    const status = this.exitStatus ? ` (exited code=${this.exitStatus.code} signal=${this.exitStatus.signal})` : ' (running)';
    return [`----- ${this.name} pid=${this.pid}${status} -----`, ...this.lines.map((l) => `${l.stream === 'stderr' ? '! ' : '  '}${l.text}`)].join('\n');
  }

  /** Resolves with the first line (already printed or future) that matches; rejects on timeout or exit. */
  waitForLine(predicate: (line: ProgramLine) => boolean, timeoutMs = 15_000, what = 'a matching line'): Promise<ProgramLine> {
    const seen = this.lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(onLine);
      };
      const onLine = (line: ProgramLine): void => {
        if (!predicate(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${what} within ${timeoutMs} ms.\n${this.transcript()}`));
      }, timeoutMs);
      this.listeners.add(onLine);
      void this.exited.then((status) => {
        if (!this.listeners.has(onLine)) return;
        // Give the last lines a chance to arrive before giving up.
        setImmediate(() => {
          if (!this.listeners.has(onLine)) return;
          done();
          reject(new Error(`${this.name} exited (code=${status.code} signal=${status.signal}) before printing ${what}.\n${this.transcript()}`));
        });
      });
    });
  }

  /** Resolves with the first JSON log record that matches. */
  async waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs = 15_000, what = 'a matching log line'): Promise<LogRecord> {
    const line = await this.waitForLine((l) => l.json !== undefined && predicate(l.json), timeoutMs, what);
    return line.json as LogRecord;
  }

  /** Resolves with the matching records once there are `count` of them (already printed or future). */
  async waitForLogs(predicate: (record: LogRecord) => boolean, count: number, timeoutMs = 15_000, what = `${count} matching log lines`): Promise<LogRecord[]> {
    // Each line reaches the predicate once: the printed ones first, then each new one as it comes.
    let seen = 0;
    await this.waitForLog((record) => predicate(record) && ++seen >= count, timeoutMs, what);
    return this.records.filter(predicate);
  }

  /** Sends `signal` to this program's own PID and resolves with how it exited; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  /** kill -9, for "the process vanished" stories. */
  kill(): void {
    this.signal('SIGKILL');
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exitStatus || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  private push(stream: 'stdout' | 'stderr', text: string): void {
    let json: LogRecord | undefined;
    if (text.startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as LogRecord;
      } catch {
        json = undefined;
      }
    }
    const line: ProgramLine = { stream, text, json, at: Date.now() };
    this.lines.push(line);
    for (const listener of [...this.listeners]) listener(line);
  }

  private collect(stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr'): void {
    if (!stream) return;
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      rest += chunk;
      let at = rest.indexOf('\n');
      while (at >= 0) {
        this.push(name, rest.slice(0, at).replace(/\r$/, ''));
        rest = rest.slice(at + 1);
        at = rest.indexOf('\n');
      }
    });
    stream.on('end', () => {
      if (rest) this.push(name, rest);
      rest = '';
    });
  }
}

export const startProgram = (command: string, options: ProgramOptions = {}): Program => new Program(command, options);

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a short command to completion (init, user add, provision, htpasswd) with a time limit. */
export const runCommand = async (command: string, options: ProgramOptions & { timeoutMs?: number } = {}): Promise<CommandResult> => {
  const program = new Program(command, options);
  const timer = setTimeout(() => program.signal('SIGKILL'), options.timeoutMs ?? 30_000);
  const status = await program.exited;
  clearTimeout(timer);
  // Let the pipes drain.
  await new Promise((resolve) => setImmediate(resolve));
  return { ...status, stdout: program.stdout, stderr: program.stderr };
};

/** Like runCommand, but throws with the whole transcript unless the command exits 0. */
export const runCommandOk = async (command: string, options: ProgramOptions & { timeoutMs?: number } = {}): Promise<CommandResult> => {
  const result = await runCommand(command, options);
  if (result.code !== 0) {
    throw new Error(`${[command, ...(options.args ?? [])].join(' ')} failed (code=${result.code} signal=${result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result;
};

/** A port that was free a moment ago (for programs that cannot listen on port 0 and report it). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export const waitForPort = async (port: number, timeoutMs = 15_000, isAlive: () => boolean = () => true): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`the program meant to listen on 127.0.0.1:${port} exited`);
    if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/**
 * Resolves with the text of a log file a program writes (Squid's access.log) once `pattern`
 * matches it: re-read on each change in its folder (the file may not exist yet), not on a timer.
 */
export const waitForFileText = (file: string, pattern: RegExp, timeoutMs: number, what: string): Promise<string> =>
  new Promise((resolve, reject) => {
    let done = false;
    let last = '';
    // Watching starts before the first read, so no write falls between the two.
    const watcher = watch(dirname(file));
    const finish = (result: { text: string } | { error: Error }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      watcher.close();
      if ('text' in result) resolve(result.text);
      else reject(result.error);
    };
    const check = (): void =>
      void readFile(file, 'utf8').then(
        (text) => {
          last = text;
          if (pattern.test(text)) finish({ text });
        },
        () => undefined,
      );
    const timer = setTimeout(() => finish({ error: new Error(`${what} did not appear in ${file} within ${timeoutMs} ms; it holds:\n${last}`) }), timeoutMs);
    watcher.on('change', check);
    watcher.on('error', (error) => finish({ error }));
    check();
  });

/** Reads `"listen":"127.0.0.1:PORT"` from a log record. */
export const listenPortOf = (record: LogRecord): number => {
  const listen = record['listen'];
  const match = typeof listen === 'string' ? /:(\d+)$/.exec(listen) : null;
  if (!match?.[1]) throw new Error(`log line has no "listen":"HOST:PORT" field: ${JSON.stringify(record)}`);
  return Number(match[1]);
};

/**
 * A stack of things to stop, stopped in reverse order exactly once. Tests register every peer
 * they start (`t.after(() => peers.close())`); bench does the same with try/finally.
 */
export class Peers {
  private readonly stops: Array<() => unknown> = [];
  private readonly programs: Program[] = [];
  private closing: Promise<void> | undefined;

  add<T extends { stop: () => unknown }>(peer: T): T {
    this.stops.push(() => peer.stop());
    const program = (peer as { program?: unknown }).program;
    if (program instanceof Program) this.programs.push(program);
    if (peer instanceof Program) this.programs.push(peer);
    return peer;
  }

  defer(stop: () => unknown): void {
    this.stops.push(stop);
  }

  watch(program: Program): Program {
    this.programs.push(program);
    return program;
  }

  /** Every watched program's output, for a failure report. */
  transcripts(): string {
    return this.programs.map((p) => p.transcript()).join('\n');
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.stops.length > 0) {
        const stop = this.stops.pop();
        try {
          await stop?.();
        } catch {
          // keep stopping the rest
        }
      }
    })();
    return this.closing;
  }
}

/**
 * Runs `body`; when it throws, prints what every program printed, then rethrows. This is the
 * "on test failure print the collected logs" hook, kept framework-free.
 */
export const explainFailure = async <T>(peers: Peers, body: () => Promise<T>): Promise<T> => {
  try {
    return await body();
  } catch (err) {
    process.stderr.write(`\n${peers.transcripts()}\n`);
    throw err;
  }
};

/** Polls `check` until it returns a value other than undefined/false; throws `what` on timeout. */
export const waitUntil = async <T>(check: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
