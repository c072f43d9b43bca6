/**
 * `pinhole console [--listen 127.0.0.1:PORT] [--secrets-file FILE] [--log-format human|json]`: the
 * desktop UI in a browser, against the engine in this process. Prints one line, the URL with a
 * one-time token; logs go to stderr (human lines on a terminal, JSON otherwise). It starts
 * without a keychain too: the UI then says so and offers a passphrase-encrypted secrets file.
 */
import { parseArgs } from 'node:util';
import { PinholeError } from '../../shared/errors.js';
import { reportStartFailure } from '../../node/start-failure.js';
import { chooseLogFormat, createLogger, logDestination, type LogFormat } from '../../shared/log.js';
import { composeHost } from '../console/compose.js';
import { ensureRendererBuilt } from '../console/renderer-build.js';
import { parseConsoleListen, startConsole } from '../console/server.js';
import { USAGE } from './usage.js';
import { ProfileStore } from '../profiles/store.js';
import { rememberSecretsFile, secretsFileFor } from './secrets-file.js';

export async function run(argv: string[]): Promise<number> {
  let listen: string | undefined;
  let secretsFile: string | undefined;
  let given: string | undefined;
  let logFormat: LogFormat;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { listen: { type: 'string' }, 'secrets-file': { type: 'string' }, 'log-format': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`${USAGE.console}\n`);
      return 0;
    }
    listen = values.listen;
    if (listen !== undefined) parseConsoleListen(listen);
    logFormat = chooseLogFormat(values['log-format'], process.stderr.isTTY);
    given = values['secrets-file'];
    // The file chosen before is used again when its passphrase is at hand (else the UI offers it).
    secretsFile = given === undefined ? (process.env.PINHOLE_SECRETS_PASSPHRASE ? secretsFileFor(undefined) : undefined) : secretsFileFor(given);
    if (given !== undefined && !process.env.PINHOLE_SECRETS_PASSPHRASE)
      throw new PinholeError('PINHOLE_USAGE', '--secrets-file needs the passphrase in PINHOLE_SECRETS_PASSPHRASE (or leave it out and enter both in the UI).');
  } catch (error) {
    process.stderr.write(`pinhole console: ${error instanceof Error ? error.message : String(error)}\n${USAGE.console}\n`);
    return 2;
  }
  const logger = createLogger({ name: 'pinhole-console', level: (process.env.PINHOLE_LOG_LEVEL as 'info' | undefined) ?? 'info', destination: logDestination(logFormat, process.stderr) });
  let stop: (() => Promise<void>) | undefined;
  try {
    const staticDir = await ensureRendererBuilt();
    const { host, stop: stopManaged } = await composeHost({ logger, ...(process.env.PINHOLE_CONFIG_DIR ? { configDir: process.env.PINHOLE_CONFIG_DIR } : {}), ...(secretsFile ? { secretsFile } : {}) });
    if (given !== undefined) rememberSecretsFile(new ProfileStore(), given);
    const running = await startConsole({ handlers: host.handlers, onEvent: (listener) => host.onEvent(listener), staticDir, logger, ...(listen ? { listen } : {}) });
    stop = async () => {
      stopManaged();
      await host.shutdown().catch(() => undefined);
      await running.close();
    };
    process.stdout.write(`${running.url}\n`);
  } catch (error) {
    await stop?.();
    return reportStartFailure('pinhole console', error, { logWhere: 'on standard error, just above this line', logger });
  }
  await new Promise<void>((resolve) => {
    const done = (): void => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  logger.info('The console is stopping.');
  await stop?.();
  return 0;
}
