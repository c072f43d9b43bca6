/**
 * A Pinhole stand-in for the GNOME system-proxy tests.
 *   sysproxy-gnome.holder.ts PORT manual|pac [exit-on-usr2]
 *     applies the system proxy, installs the restore-on-exit handlers, prints one JSON line
 *     ({ ready, watchdogPid, sessionId }) and waits to be stopped; with exit-on-usr2, SIGUSR2
 *     makes it call process.exit(3) (a fatal-error path that skips the async restore).
 *   sysproxy-gnome.holder.ts stale
 *     what a fresh start does first: restores a dead Pinhole's leftover proxy, prints the outcome.
 */
import { pino } from 'pino';
import { createLogger } from '../../shared/log.js';
import { applySystemProxy, installRestoreOnExit, restoreStaleSystemProxy } from '../../main/sysproxy/index.js';

const logger = createLogger({ name: 'holder', destination: pino.destination(2) });

if (process.argv[2] === 'stale') {
  const outcome = await restoreStaleSystemProxy({ logger });
  process.stdout.write(`${JSON.stringify({ outcome })}\n`);
} else {
  const port = Number(process.argv[2]);
  const mode = process.argv[3] === 'pac' ? 'pac' : 'manual';
  const session = await applySystemProxy({ host: '127.0.0.1', port, mode, logger, checkEveryMs: 0 });
  installRestoreOnExit(session, logger);
  if (process.argv[4] === 'exit-on-usr2') process.on('SIGUSR2', () => process.exit(3));
  process.stdout.write(`${JSON.stringify({ ready: true, watchdogPid: session.watchdogPid, sessionId: session.sessionId })}\n`);
  setInterval(() => undefined, 60_000);
}
