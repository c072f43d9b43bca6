/**
 * A Pinhole stand-in for the GNOME system-proxy tests: applies the system proxy, installs the
 * restore-on-exit handlers, prints one JSON line ({ ready, watchdogPid, sessionId }) and waits
 * to be stopped. Usage: sysproxy-gnome.holder.ts PORT manual|pac
 */
import { pino } from 'pino';
import { createLogger } from '../../shared/log.js';
import { applySystemProxy, installRestoreOnExit } from '../../main/sysproxy/index.js';

const port = Number(process.argv[2]);
const mode = process.argv[3] === 'pac' ? 'pac' : 'manual';
const logger = createLogger({ name: 'holder', destination: pino.destination(2) });

const session = await applySystemProxy({ host: '127.0.0.1', port, mode, logger, checkEveryMs: 0 });
installRestoreOnExit(session, logger);
process.stdout.write(`${JSON.stringify({ ready: true, watchdogPid: session.watchdogPid, sessionId: session.sessionId })}\n`);
setInterval(() => undefined, 60_000);
