/**
 * The watchdog process's entry point:
 *   watchdog-entry watch STATE_FILE OWNER_PID SESSION_ID
 *   watchdog-entry restore-now STATE_FILE SESSION_ID
 * It logs JSON lines to sysproxy-watchdog.log beside the state file.
 */
import { pino } from 'pino';
import { createLogger } from '../../shared/log.js';
import { WATCHDOG_READY_LINE, restoreNow, runWatchdog, watchdogLogFile } from './watchdog.js';

const [command, stateFile, ...rest] = process.argv.slice(2);
if (!stateFile || (command !== 'watch' && command !== 'restore-now')) {
  process.stderr.write('usage: watchdog-entry watch STATE_FILE OWNER_PID SESSION_ID | restore-now STATE_FILE SESSION_ID\n');
  process.exit(2);
}

const logger = createLogger({
  name: 'pinhole-sysproxy-watchdog',
  destination: pino.destination({ dest: watchdogLogFile(stateFile), append: true, sync: true, mkdir: true }),
});

// The watchdog must survive the terminal or session signals that stop its owner.
for (const signal of ['SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);

try {
  if (command === 'watch') {
    const [ownerPid, sessionId] = rest;
    if (!ownerPid || !sessionId) throw new Error('missing owner pid or session id');
    process.stdout.write(`${WATCHDOG_READY_LINE}\n`);
    await runWatchdog({ stateFile, ownerPid: Number(ownerPid), sessionId, logger: logger.child({ ownerPid: Number(ownerPid) }) });
  } else {
    const [sessionId] = rest;
    if (!sessionId) throw new Error('missing session id');
    await restoreNow({ stateFile, sessionId, logger });
  }
  process.exit(0);
} catch (error) {
  logger.error({ err: error }, 'The system proxy watchdog failed.');
  process.exit(1);
}
