/** `run`: the gateway in the foreground (optionally N cluster workers), graceful stop on SIGTERM/SIGINT. */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { createLogger, logDestination, type LogFormat, type Logger } from '../../shared/log.js';
import { parseListen, type GatewayConfig } from '../config.js';
import type { MuxConfig } from '../mux/config.js';
import { Gateway } from '../gateway.js';
import { usage } from './common.js';

/** The cluster primary hands every worker the same TLS session-ticket keys (48 bytes, base64) in this variable. */
const TICKET_KEYS_ENV = 'PINHOLE_TICKET_KEYS';

/** A worker's shared ticket keys, removed from the environment once read so nothing it starts inherits them. */
const sharedTicketKeys = (): Buffer | undefined => {
  const text = process.env[TICKET_KEYS_ENV];
  delete process.env[TICKET_KEYS_ENV];
  if (text === undefined) return undefined;
  const keys = Buffer.from(text, 'base64');
  return keys.length === 48 ? keys : undefined;
};

export interface RunOptions {
  readonly config: GatewayConfig;
  readonly workers: number;
  readonly mux?: MuxConfig;
  /** Human lines for a person at a terminal, JSON lines otherwise (default json). */
  readonly logFormat?: LogFormat;
}

const listenLine = (logger: Logger, config: GatewayConfig, address: string, port: number, extra: Record<string, unknown> = {}): void => {
  logger.info(
    { listen: `${address.includes(':') ? `[${address}]` : address}:${port}`, hostname: config.hostname, restrictTo: config.restrictTo, allowPorts: config.allowPorts, ...extra },
    'The gateway is listening.',
  );
};

export async function run({ config, workers, mux, logFormat = 'json' }: RunOptions): Promise<number> {
  // JSON keeps pino's own stdout writer (the access log's hot path); human lines go through the formatter.
  const logger = createLogger({ name: 'pinhole-gateway', ...(logFormat === 'human' ? { destination: logDestination(logFormat, process.stdout) } : {}) });
  if (parseListen(config.listen) === undefined) usage(`--listen ${config.listen} is not HOST:PORT.`);
  if (workers > 1 && cluster.isPrimary) return runPrimary(config, workers, logger);

  const ticketKeys = cluster.isPrimary ? undefined : sharedTicketKeys();
  const gateway = new Gateway(config, { logger, ...(mux === undefined ? {} : { mux }), ...(ticketKeys === undefined ? {} : { ticketKeys }) });
  // Caught before the ready line, so a stop sent the moment it appears still drains cleanly.
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (!cluster.isPrimary) process.once('disconnect', () => resolve('disconnect'));
  });
  const address = await gateway.listen(config.listen);
  if (cluster.isPrimary) listenLine(logger, config, address.address, address.port, { users: gateway.users.size });
  else process.send?.({ kind: 'listening', address: address.address, port: address.port });
  process.on('SIGUSR2', () => logger.info(gateway.stats(), 'Gateway stats.'));
  const signal = await stopSignal;
  logger.info({ signal, drainSeconds: config.drainSeconds, ...gateway.stats() }, 'The gateway is stopping: no new connections, open tunnels drain.');
  await gateway.close(config.drainSeconds * 1000);
  logger.info(gateway.stats(), 'The gateway stopped.');
  return 0;
}

async function runPrimary(config: GatewayConfig, workers: number, logger: Logger): Promise<number> {
  // Workers accept on the shared socket themselves (the kernel spreads connections) instead of the
  // primary accepting each one and passing it on, which cost the primary a core's share per
  // handshake on a 2-core machine. An operator's NODE_CLUSTER_SCHED_POLICY still wins.
  if (process.env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  let announced = false;
  // One set of session-ticket keys for all workers: a ticket issued by one worker resumes on any.
  const ticketKeys = randomBytes(48).toString('base64');
  const spawn = (): void => {
    const worker = cluster.fork({ [TICKET_KEYS_ENV]: ticketKeys });
    worker.on('message', (message: { kind?: string; address?: string; port?: number }) => {
      if (message.kind === 'listening' && !announced && message.address !== undefined && message.port !== undefined) {
        announced = true;
        listenLine(logger, config, message.address, message.port, { workers });
      }
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      logger.warn({ worker: worker.process.pid, code, signal }, 'A gateway worker died; starting another.');
      setTimeout(spawn, 500).unref();
    });
  };
  for (let i = 0; i < workers; i++) spawn();
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, workers }, 'The gateway is stopping: forwarding the signal to the workers.');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      const check = setInterval(() => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearInterval(check);
          logger.info({}, 'The gateway stopped.');
          resolve(0);
        }
      }, 100);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
