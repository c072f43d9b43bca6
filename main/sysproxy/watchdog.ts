/**
 * The watchdog: a small detached process that outlives a Pinhole that dies without cleaning up
 * (kill -9, a crash). It polls the owner's pid and, once the owner is gone, restores the system
 * proxy from the state file and exits. It exits quietly as soon as the state file disappears or
 * names another session, so an old watchdog never undoes a newer connect.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/log.js';
import { adapterByName } from './detect.js';
import { isPidAlive, readState, removeStateIf, restoreFromState } from './state.js';
import type { SystemProxyAdapter } from './types.js';

export const WATCHDOG_INTERVAL_MS = 500;
export const WATCHDOG_READY_LINE = 'pinhole-sysproxy-watchdog watching';

export interface WatchdogTarget {
  stateFile: string;
  ownerPid: number;
  sessionId: string;
}

export type WatchdogOutcome = 'restored' | 'superseded';

/** The loop itself (exported for tests in-process). */
export const runWatchdog = async (
  target: WatchdogTarget & { logger: Logger; intervalMs?: number; adapterFor?: (name: string) => SystemProxyAdapter },
): Promise<WatchdogOutcome> => {
  const { stateFile, ownerPid, sessionId, logger } = target;
  const adapterFor = target.adapterFor ?? ((name: string) => adapterByName(name));
  for (;;) {
    const state = await readState(stateFile, logger).catch(() => undefined);
    if (!state || state.sessionId !== sessionId) {
      logger.info({ sessionId }, 'The watched session ended normally; the watchdog stops.');
      return 'superseded';
    }
    if (!isPidAlive(ownerPid)) {
      logger.warn({ ownerPid, sessionId }, 'Pinhole stopped without restoring the system proxy; the watchdog restores it.');
      await restoreFromState(adapterFor(state.adapter), state, logger);
      await removeStateIf(stateFile, sessionId);
      return 'restored';
    }
    await sleep(target.intervalMs ?? WATCHDOG_INTERVAL_MS);
  }
};

/** Restores now if the state file still belongs to `sessionId` (used by the synchronous exit path). */
export const restoreNow = async ({ stateFile, sessionId, logger }: { stateFile: string; sessionId: string; logger: Logger }): Promise<boolean> => {
  const state = await readState(stateFile, logger);
  if (!state || state.sessionId !== sessionId) return false;
  await restoreFromState(adapterByName(state.adapter), state, logger);
  await removeStateIf(stateFile, sessionId);
  return true;
};

const entryCommand = (): { file: string; args: string[] } => {
  const here = import.meta.url;
  const isSource = here.endsWith('.ts');
  const entry = fileURLToPath(new URL(isSource ? './watchdog-entry.ts' : './watchdog-entry.js', here));
  const loader = isSource ? ['--import', import.meta.resolve('tsx')] : [];
  return { file: process.execPath, args: [...loader, entry] };
};

const childEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ELECTRON_RUN_AS_NODE: '1' });

export const watchdogLogFile = (stateFile: string): string => join(dirname(stateFile), 'sysproxy-watchdog.log');

/**
 * Starts the watchdog and resolves with its pid once it is watching (so crash safety is live
 * when this returns), or undefined if it could not start in time.
 */
export const spawnWatchdog = (target: WatchdogTarget, logger: Logger, readyTimeoutMs = 20_000): Promise<number | undefined> =>
  new Promise((resolve) => {
    const { file, args } = entryCommand();
    const child = spawn(file, [...args, 'watch', target.stateFile, String(target.ownerPid), target.sessionId], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: childEnv(),
      windowsHide: true,
    });
    let settled = false;
    let seen = '';
    const finish = (pid: number | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.destroy();
      child.unref();
      resolve(pid);
    };
    const timer = setTimeout(() => {
      logger.warn({ pid: child.pid }, 'The system proxy watchdog did not start in time; a crash may leave the proxy set until the next start.');
      finish(child.pid);
    }, readyTimeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      seen += chunk;
      if (seen.includes(WATCHDOG_READY_LINE)) finish(child.pid);
    });
    child.once('error', (error) => {
      logger.warn({ err: error }, 'The system proxy watchdog could not be started.');
      finish(undefined);
    });
    child.once('exit', (code) => {
      if (!settled) logger.warn({ code }, 'The system proxy watchdog exited before it started watching.');
      finish(undefined);
    });
  });

/** Restores synchronously in a child process: the one way to restore from an 'exit' handler. */
export const restoreNowSync = (target: Omit<WatchdogTarget, 'ownerPid'>, timeoutMs = 15_000): boolean => {
  const { file, args } = entryCommand();
  const result = spawnSync(file, [...args, 'restore-now', target.stateFile, target.sessionId], {
    stdio: 'ignore',
    env: childEnv(),
    timeout: timeoutMs,
    windowsHide: true,
  });
  return result.status === 0;
};
