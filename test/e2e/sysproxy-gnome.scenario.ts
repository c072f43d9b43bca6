/**
 * Runs inside `dbus-run-session` with a fresh HOME, so `gsettings` talks to a real, private
 * dconf. Each scenario drives real holder processes (sysproxy-gnome.holder.ts) and prints ONE
 * JSON line with what `gsettings get` reported at each step; sysproxy-gnome.test.ts asserts it.
 * Usage: sysproxy-gnome.scenario.ts sigterm|kill9|pac|user-change|second-connect
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = fileURLToPath(new URL('.', import.meta.url));
const stateFile = join(process.env.PINHOLE_CONFIG_DIR ?? '', 'sysproxy-state.json');

const KEYS = [
  ['org.gnome.system.proxy', 'mode'],
  ['org.gnome.system.proxy', 'autoconfig-url'],
  ['org.gnome.system.proxy', 'ignore-hosts'],
  ['org.gnome.system.proxy.http', 'host'],
  ['org.gnome.system.proxy.http', 'port'],
  ['org.gnome.system.proxy.https', 'host'],
  ['org.gnome.system.proxy.https', 'port'],
] as const;

type Proxy = Record<string, string>;

const get = (schema: string, key: string): string => execFileSync('gsettings', ['get', schema, key], { encoding: 'utf8' }).trim();
const set = (schema: string, key: string, value: string): void => {
  execFileSync('gsettings', ['set', schema, key, value]);
};
const read = (): Proxy => Object.fromEntries(KEYS.map(([schema, key]) => [`${schema.replace('org.gnome.system.proxy', 'proxy')} ${key}`, get(schema, key)]));
const same = (a: Proxy, b: Proxy): boolean => JSON.stringify(a) === JSON.stringify(b);

const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Holder {
  child: ChildProcess;
  watchdogPid: number | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
const watchdogs: number[] = [];

const startHolder = async (port: number, mode: 'manual' | 'pac' = 'manual', extra: string[] = []): Promise<Holder> => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'sysproxy-gnome.holder.ts'), String(port), mode, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const line = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      seen += chunk;
      const end = seen.indexOf('\n');
      if (end >= 0) resolve(seen.slice(0, end));
    });
    void exited.then(({ code }) => reject(new Error(`holder exited early with code ${code}`)));
  });
  const { watchdogPid } = JSON.parse(line) as { watchdogPid?: number };
  if (watchdogPid !== undefined) watchdogs.push(watchdogPid);
  return { child, watchdogPid, exited };
};

/** Polls until `predicate` holds or `ms` have passed; returns whether it held. */
const waitFor = async (predicate: () => boolean, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms;
  for (;;) {
    if (predicate()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
};

const stop = async (holder: Holder, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
  holder.child.kill(signal);
  return holder.exited;
};

const watchdogLog = (): string => {
  const file = join(process.env.PINHOLE_CONFIG_DIR ?? '', 'sysproxy-watchdog.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
};

const scenarios: Record<string, () => Promise<Record<string, unknown>>> = {
  /** Apply, then SIGTERM: the holder restores before it exits. */
  sigterm: async () => {
    const before = read();
    const holder = await startHolder(18080);
    const during = read();
    const stateDuring = existsSync(stateFile);
    const exit = await stop(holder, 'SIGTERM');
    return { before, during, stateDuring, exit, after: read(), stateAfter: existsSync(stateFile) };
  },

  /** kill -9: nobody in the holder restores; the watchdog must, within 5 s. */
  kill9: async () => {
    set('org.gnome.system.proxy.http', 'host', "'proxy.corp.example'");
    set('org.gnome.system.proxy.http', 'port', '3128');
    set('org.gnome.system.proxy', 'mode', "'manual'");
    const before = read();
    const holder = await startHolder(18080);
    const during = read();
    const exit = await stop(holder, 'SIGKILL');
    const restoredWithin5s = await waitFor(() => same(read(), before), 5000);
    const watchdogGone = await waitFor(() => !alive(holder.watchdogPid), 5000);
    return { before, during, exit, restoredWithin5s, after: read(), watchdogGone, stateAfter: existsSync(stateFile) };
  },

  /** A corporate PAC URL set before connecting comes back exactly (Pinhole itself in PAC mode). */
  pac: async () => {
    set('org.gnome.system.proxy', 'autoconfig-url', "'http://wpad.corp.example/wpad.dat'");
    set('org.gnome.system.proxy', 'mode', "'auto'");
    const before = read();
    const holder = await startHolder(18080, 'pac');
    const during = read();
    const exit = await stop(holder, 'SIGTERM');
    return { before, during, exit, after: read() };
  },

  /** The user sets a different host while connected: restore keeps it, and puts back the rest. */
  'user-change': async () => {
    const before = read();
    const holder = await startHolder(18080);
    const during = read();
    set('org.gnome.system.proxy.http', 'host', "'user.example'");
    const exit = await stop(holder, 'SIGTERM');
    return { before, during, exit, after: read() };
  },

  /** process.exit() from a fatal path: the synchronous exit hook restores before the process is gone. */
  exit: async () => {
    const before = read();
    const holder = await startHolder(18080, 'manual', ['exit-on-usr2']);
    const during = read();
    const exit = await stop(holder, 'SIGUSR2');
    const after = read();
    const watchdogGone = await waitFor(() => !alive(holder.watchdogPid), 5000);
    const watchdogHadToRestore = watchdogLog().includes('stopped without restoring');
    return { before, during, exit, after, watchdogGone, watchdogHadToRestore, stateAfter: existsSync(stateFile) };
  },

  /** A power cut: holder and watchdog both gone; the next start restores the stale settings. */
  'power-cut': async () => {
    const before = read();
    const holder = await startHolder(18080);
    const during = read();
    if (holder.watchdogPid !== undefined) process.kill(holder.watchdogPid, 'SIGKILL');
    await waitFor(() => !alive(holder.watchdogPid), 5000);
    await stop(holder, 'SIGKILL');
    await sleep(1500);
    const stale = read();
    const stateStale = existsSync(stateFile);
    const next = spawn(process.execPath, ['--import', 'tsx', join(here, 'sysproxy-gnome.holder.ts'), 'stale'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(next);
    let out = '';
    next.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await new Promise((resolve) => next.once('exit', resolve));
    return { before, during, stale, stateStale, nextStart: JSON.parse(out.trim()) as unknown, after: read(), stateAfter: existsSync(stateFile) };
  },

  /** A second connect right after a restore is not undone by the first session's watchdog. */
  'second-connect': async () => {
    const before = read();
    const first = await startHolder(18080);
    // The first watchdog is held still (as a busy machine might), so it is certainly still around,
    // with its owner dead, when the second connect writes its state: the race this guards against.
    if (first.watchdogPid !== undefined) process.kill(first.watchdogPid, 'SIGSTOP');
    const firstExit = await stop(first, 'SIGTERM');
    const afterFirst = read();
    const second = await startHolder(18081);
    const duringSecond = read();
    if (first.watchdogPid !== undefined) process.kill(first.watchdogPid, 'SIGCONT');
    const firstWatchdogGone = await waitFor(() => !alive(first.watchdogPid), 10_000);
    // Several of the old watchdog's polling periods, had it survived.
    await sleep(2000);
    const secondStill = read();
    const secondWatchdogAlive = alive(second.watchdogPid);
    const secondExit = await stop(second, 'SIGTERM');
    return { before, firstExit, afterFirst, duringSecond, firstWatchdogGone, secondStill, secondWatchdogAlive, secondExit, after: read() };
  },
};

const name = process.argv[2] ?? '';
const scenario = scenarios[name];
if (!scenario) {
  process.stderr.write(`unknown scenario ${name}\n`);
  process.exit(2);
}
try {
  const result = await scenario();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} finally {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  // Watchdogs of holders we started (detached, so they are ours to end if a scenario failed midway).
  for (const pid of watchdogs) if (alive(pid)) process.kill(pid, 'SIGKILL');
}
