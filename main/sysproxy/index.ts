/**
 * The system proxy, crash-safe: `applySystemProxy` saves what is there, points the OS at
 * Pinhole, and returns the session that puts it back. Whichever way Pinhole stops (disconnect,
 * Quit, a signal, a crash), the same state file drives the restore, and only settings that
 * still hold what Pinhole set are put back.
 */
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { bypassList, shellExportLine } from './bypass.js';
import { adapterByName, detectAdapter } from './detect.js';
import {
  changedFields,
  isOwnerAlive,
  newSessionId,
  readState,
  removeStateIf,
  restoreFromState,
  stateFilePath,
  writeState,
  type SystemProxyState,
} from './state.js';
import { restoreNowSync, spawnWatchdog } from './watchdog.js';
import type { ProxyFields, ProxySettings, SystemProxyAdapter } from './types.js';

export type { ProxySettings, ProxySnapshot, ProxyFields, SystemProxyAdapter, CommandRunner, CommandOutput } from './types.js';
export { shellExportLine, bypassList, ALWAYS_BYPASS } from './bypass.js';
export { detectAdapter, adapterByName } from './detect.js';
export { defaultStateDir, stateFilePath, readState } from './state.js';
export type { SystemProxyState } from './state.js';

export const CHANGED_OUTSIDE_MESSAGE = 'The system proxy was changed outside Pinhole.';

export interface ApplySystemProxyOptions {
  host: string;
  port: number;
  mode: 'manual' | 'pac';
  /** PAC mode: defaults to `http://HOST:PORT/proxy.pac`. */
  pacUrl?: string;
  /** Extra entries; loopback and local networks are always bypassed. */
  bypass?: string[];
  logger: Logger;
  /** Defaults to the adapter `detectAdapter()` picks for this machine. */
  adapter?: SystemProxyAdapter;
  /** Where the state file lives; defaults to `$PINHOLE_CONFIG_DIR` or `${XDG_CONFIG_HOME:-~/.config}/pinhole`. */
  stateDir?: string;
  /** Start the crash watchdog (default true; needs an adapter `adapterByName` can rebuild). */
  watchdog?: boolean;
  /** How often to look for outside changes and new network services; 0 turns it off (default 5000 ms). */
  checkEveryMs?: number;
}

export type ProxyOwnership = 'ours' | 'changed-outside';

export interface SystemProxySession {
  /** Puts back what was there before (only fields still holding our values). Safe to call twice. */
  restore(): Promise<void>;
  /** Sets Pinhole's proxy again (the one-click answer to an outside change). */
  reapply(): Promise<void>;
  /** Are the settings still ours? Emits the outside-change notice once per change; never fights it. */
  check(): Promise<ProxyOwnership>;
  /** Applies to settings that appeared since (a new macOS network service) and remembers them for restore. */
  refresh(): Promise<void>;
  onChangedOutside(callback: (fields: string[]) => void): () => void;
  readonly sessionId: string;
  readonly stateFile: string;
  readonly watchdogPid: number | undefined;
  readonly restored: boolean;
}

const settingsFrom = (opts: ApplySystemProxyOptions): ProxySettings => {
  if (opts.mode === 'pac') {
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    return { mode: 'pac', pacUrl: opts.pacUrl ?? `http://${host}:${opts.port}/proxy.pac` };
  }
  return { mode: 'manual', host: opts.host, port: opts.port, bypass: bypassList(opts.bypass) };
};

const pick = (fields: ProxyFields, names: Iterable<string>): ProxyFields => {
  const out: ProxyFields = {};
  for (const name of names) if (name in fields) out[name] = fields[name] ?? null;
  return out;
};

export interface RestoreStaleOptions {
  logger: Logger;
  stateDir?: string;
  adapter?: SystemProxyAdapter;
}

export type StaleOutcome = 'nothing' | 'restored' | 'owner-alive';

/** At startup (and at login): if a Pinhole that set the proxy died without restoring, restore now. */
export const restoreStaleSystemProxy = async ({ logger, stateDir, adapter }: RestoreStaleOptions): Promise<StaleOutcome> => {
  const file = stateFilePath(stateDir);
  const state = await readState(file, logger);
  if (!state) return 'nothing';
  if (isOwnerAlive(state)) return 'owner-alive';
  logger.warn({ ownerPid: state.ownerPid, since: state.time }, 'A previous Pinhole left the system proxy set; putting it back.');
  // The adapter that wrote the state restores it, even if this start would pick another one.
  await restoreFromState(adapter?.name === state.adapter ? adapter : adapterByName(state.adapter), state, logger);
  await removeStateIf(file, state.sessionId);
  return 'restored';
};

export const applySystemProxy = async (opts: ApplySystemProxyOptions): Promise<SystemProxySession> => {
  const { logger } = opts;
  let adapter: SystemProxyAdapter;
  try {
    adapter = opts.adapter ?? detectAdapter(process.env, { host: opts.host, port: opts.port });
  } catch (error) {
    if (error instanceof PinholeError) logger.warn({ code: error.code, exportLine: shellExportLine(opts.host, opts.port) }, error.message);
    throw error;
  }
  const file = stateFilePath(opts.stateDir);
  const settings = settingsFrom(opts);

  await restoreStaleSystemProxy({ logger, stateDir: opts.stateDir, adapter });
  const current = await adapter.snapshot();
  const planned = adapter.plan(settings, current).fields;

  // Another live Pinhole session set the proxy: take it over, keeping what was there before it.
  const previous = await readState(file, logger);
  const snapshot: ProxyFields = { ...current.fields };
  if (previous && previous.adapter === adapter.name) {
    for (const [name, value] of Object.entries(previous.applied)) {
      if (current.fields[name] === value && name in previous.snapshot) snapshot[name] = previous.snapshot[name] ?? null;
    }
    logger.info({ previousSession: previous.sessionId }, 'Another Pinhole session had set the system proxy; this one takes over.');
  }

  const sessionId = newSessionId();
  let state: SystemProxyState = {
    version: 1,
    adapter: adapter.name,
    snapshot,
    applied: planned,
    settings,
    ownerPid: process.pid,
    sessionId,
    time: new Date().toISOString(),
  };
  await writeState(file, state);
  const watchdogPid = opts.watchdog === false ? undefined : await spawnWatchdog({ stateFile: file, ownerPid: process.pid, sessionId }, logger);

  const undoFailedApply = async (error: unknown): Promise<never> => {
    await restoreFromState(adapter, state, logger).catch((undoError: unknown) => logger.error({ err: undoError }, 'Undoing a half-applied system proxy failed.'));
    await removeStateIf(file, sessionId);
    throw error instanceof PinholeError ? error : new PinholeError('PINHOLE_SYSTEM_PROXY_FAILED', undefined, { cause: error });
  };

  /** Writes `fields`, then records what the system reports back (its own spelling of our values). */
  const write = async (fields: ProxyFields): Promise<void> => {
    await adapter.restore({ adapter: adapter.name, fields });
    const after = await adapter.read();
    state = { ...state, applied: { ...state.applied, ...pick(after.fields, Object.keys(fields)) } };
    await writeState(file, state);
  };

  try {
    await write(planned);
  } catch (error) {
    return undoFailedApply(error);
  }
  logger.info({ adapter: adapter.name, mode: settings.mode, host: opts.host, port: opts.port, watchdogPid }, 'The system proxy now points at Pinhole.');

  const listeners = new Set<(fields: string[]) => void>();
  let noticed = false;
  let restored = false;
  let restoring: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let busy: Promise<unknown> = Promise.resolve();
  /** One adapter conversation at a time: a poll never interleaves with a restore or re-apply. */
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const next = busy.then(task, task);
    busy = next.catch(() => undefined);
    return next;
  };

  const stillOurs = async (): Promise<boolean> => {
    const onDisk = await readState(file, logger);
    return onDisk?.sessionId === sessionId;
  };

  const check = (): Promise<ProxyOwnership> =>
    serial(async () => {
      if (restored) return 'ours';
      const current = await adapter.read();
      const changed = changedFields(state.applied, current.fields);
      if (changed.length === 0) return 'ours';
      if (!noticed) {
        noticed = true;
        logger.warn({ fields: changed }, CHANGED_OUTSIDE_MESSAGE);
        for (const listener of [...listeners]) listener(changed);
      }
      return 'changed-outside';
    });

  const refresh = (): Promise<void> =>
    serial(async () => {
      if (restored) return;
      const now = await adapter.snapshot();
      const fresh = Object.keys(now.fields).filter((name) => !(name in state.snapshot));
      if (fresh.length === 0) return;
      const freshPlan = pick(adapter.plan(settings, { adapter: adapter.name, fields: pick(now.fields, fresh) }).fields, fresh);
      state = { ...state, snapshot: { ...state.snapshot, ...pick(now.fields, fresh) }, applied: { ...state.applied, ...freshPlan } };
      await writeState(file, state);
      await write(freshPlan);
      logger.info({ fields: fresh }, 'New network settings appeared; Pinhole set its proxy there too and will restore them at the end.');
    });

  const reapply = (): Promise<void> =>
    serial(async () => {
      if (restored) throw new PinholeError('PINHOLE_SYSTEM_PROXY_FAILED', 'This system proxy session has already been restored.');
      const now = await adapter.snapshot();
      const fields = adapter.plan(settings, now).fields;
      // What somebody else set meanwhile is what we overwrite now, so that is what comes back at the end.
      const changed = changedFields(state.applied, now.fields);
      state = {
        ...state,
        snapshot: { ...state.snapshot, ...pick(now.fields, changed), ...pick(now.fields, Object.keys(fields).filter((n) => !(n in state.snapshot))) },
        applied: { ...state.applied, ...fields },
      };
      await writeState(file, state);
      await write(fields);
      noticed = false;
      logger.info({ adapter: adapter.name }, 'The system proxy points at Pinhole again.');
    });

  const restore = (): Promise<void> => {
    restoring ??= serial(async () => {
      if (timer) clearInterval(timer);
      if (!(await stillOurs())) {
        logger.info({ sessionId }, 'The system proxy was already put back (or another Pinhole session owns it now).');
        restored = true;
        return;
      }
      await restoreFromState(adapter, state, logger);
      await removeStateIf(file, sessionId);
      restored = true;
    });
    return restoring;
  };

  const checkEveryMs = opts.checkEveryMs ?? 5000;
  if (checkEveryMs > 0) {
    timer = setInterval(() => {
      refresh()
        .then(check)
        .catch((error: unknown) => logger.warn({ err: error }, 'Checking the system proxy failed.'));
    }, checkEveryMs);
    timer.unref();
  }

  return {
    restore,
    reapply,
    check,
    refresh,
    onChangedOutside: (callback) => {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    sessionId,
    stateFile: file,
    watchdogPid,
    get restored() {
      return restored;
    },
  };
};

const EXIT_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Restores the system proxy on SIGTERM, SIGINT and SIGHUP, and synchronously on process exit if
 * nothing else did. When no other handler is installed for the signal, exits 0 after restoring;
 * otherwise the caller's own handler decides when to exit. Returns a disposer.
 */
export const installRestoreOnExit = (session: SystemProxySession, logger: Logger): (() => void) => {
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'Stopping: putting the system proxy back.');
    const alone = process.listenerCount(signal) === 1;
    session
      .restore()
      .catch((error: unknown) => logger.error({ err: error }, 'The system proxy could not be put back; the watchdog will retry.'))
      .finally(() => {
        if (alone) process.exit(0);
      });
  };
  const onExit = (): void => {
    if (session.restored) return;
    // Only synchronous work runs here: a child process restores from the state file.
    restoreNowSync({ stateFile: session.stateFile, sessionId: session.sessionId });
  };
  for (const signal of EXIT_SIGNALS) process.on(signal, onSignal);
  process.on('exit', onExit);
  return () => {
    for (const signal of EXIT_SIGNALS) process.off(signal, onSignal);
    process.off('exit', onExit);
  };
};

