/** `run`: the gateway in the foreground (optionally N cluster workers), graceful stop on SIGTERM/SIGINT. */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { createLogger, logDestination, type LogFormat, type Logger } from '../../shared/log.js';
import { parseListen, type GatewayConfig } from '../config.js';
import type { MuxConfig } from '../mux/config.js';
import { Gateway } from '../gateway.js';
import { startAdmin, type AdminListener } from '../admin.js';
import { GatewayMetrics, clusterSource, registrySource, type MetricsSource } from '../metrics.js';
import type { Endpoint } from '../../shared/profile.js';
import type { SessionView } from '../sessions.js';
import { answerSessionQuestions, clusterSessions } from '../cluster-sessions.js';
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
  readonly fleet?: FleetOptions;
}

/** Running as one of several gateways behind a balancer (issue 10). */
export interface FleetOptions {
  /** `--admin HOST:PORT`: /metrics, /healthz, /readyz; off when unset. */
  readonly admin?: Endpoint;
  /** `--drain-grace S`: after SIGTERM, /readyz says 503 but new connections are still taken for this long. */
  readonly drainGraceSeconds: number;
  /** `--ticket-keys FILE`: shared TLS session-ticket keys. */
  readonly ticketKeysFile?: string;
}

const NO_FLEET: FleetOptions = { drainGraceSeconds: 0 };

const startAdminIf = (fleet: FleetOptions, metrics: MetricsSource, ready: () => boolean, logger: Logger, sessions: () => Promise<SessionView[]>): Promise<AdminListener | undefined> =>
  fleet.admin === undefined ? Promise.resolve(undefined) : startAdmin({ listen: fleet.admin, metrics, ready, logger, sessions });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How long past its drain deadline a stopping gateway may take to close what is left. */
const STOP_SLACK_MS = 1_000;

/**
 * Once a stop has begun, nothing a peer does may keep the process: it exits `deadlineMs` later
 * whatever is still open (a frozen Redis, a socket a server still counts, a timer), and, where
 * `secondSignal`, a second SIGTERM or SIGINT exits at once (128 + the signal's number). The
 * timer is unref'd: a stop that finishes first exits as usual. `last` runs before either exit.
 */
const armStopDeadline = (logger: Logger, deadlineMs: number, secondSignal: boolean, last: () => void = () => undefined): void => {
  setTimeout(() => {
    logger.warn({ deadlineSeconds: deadlineMs / 1000 }, 'The gateway did not finish stopping by its drain deadline plus one second; exiting now.');
    last();
    process.exit(0);
  }, deadlineMs).unref();
  if (!secondSignal) {
    // Without a listener a second signal would kill at once: a worker leaves that to its primary.
    process.on('SIGTERM', () => undefined);
    process.on('SIGINT', () => undefined);
    return;
  }
  const now = (signal: 'SIGTERM' | 'SIGINT'): void => {
    logger.warn({ signal }, `A second ${signal}: the gateway exits at once, without waiting for the drain.`);
    last();
    process.exit(128 + constants.signals[signal]);
  };
  process.once('SIGTERM', () => now('SIGTERM'));
  process.once('SIGINT', () => now('SIGINT'));
};

const listenLine = (logger: Logger, config: GatewayConfig, address: string, port: number, extra: Record<string, unknown> = {}): void => {
  logger.info(
    { listen: `${address.includes(':') ? `[${address}]` : address}:${port}`, hostname: config.hostname, restrictTo: config.restrictTo, allowPorts: config.allowPorts, ...extra },
    'The gateway is listening.',
  );
};

export async function run({ config, workers, mux, logFormat = 'json', fleet = NO_FLEET }: RunOptions): Promise<number> {
  // JSON keeps pino's own stdout writer (the access log's hot path); human lines go through the formatter.
  const logger = createLogger({ name: 'pinhole-gateway', ...(logFormat === 'human' ? { destination: logDestination(logFormat, process.stdout) } : {}) });
  if (parseListen(config.listen) === undefined) usage(`--listen ${config.listen} is not HOST:PORT.`);
  if (workers > 1 && cluster.isPrimary) return runPrimary(config, workers, logger, fleet);

  // Workers get the primary's random keys unless a ticket-keys file is shared by the whole fleet.
  const envKeys = cluster.isPrimary ? undefined : sharedTicketKeys();
  const ticketKeys = fleet.ticketKeysFile === undefined ? envKeys : undefined;
  const metrics = new GatewayMetrics();
  if (!cluster.isPrimary) metrics.shareWithClusterPrimary();
  const gateway = new Gateway(config, {
    logger,
    metrics,
    ...(mux === undefined ? {} : { mux }),
    ...(ticketKeys === undefined ? {} : { ticketKeys }),
    ...(fleet.ticketKeysFile === undefined ? {} : { ticketKeysFile: fleet.ticketKeysFile }),
  });
  // Caught before the ready line, so a stop sent the moment it appears still drains cleanly.
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (!cluster.isPrimary) process.once('disconnect', () => resolve('disconnect'));
  });
  const address = await gateway.listen(config.listen);
  const admin = cluster.isPrimary ? await startAdminIf(fleet, registrySource(metrics.registry), () => gateway.ready, logger, () => Promise.resolve(gateway.tunnels.sessions.list())) : undefined;
  if (!cluster.isPrimary) answerSessionQuestions(() => gateway.tunnels.sessions.list());
  if (cluster.isPrimary) listenLine(logger, config, address.address, address.port, { users: gateway.users.size });
  else process.send?.({ kind: 'listening', address: address.address, port: address.port });
  process.on('SIGUSR2', () => logger.info(gateway.stats(), 'Gateway stats.'));
  const signal = await stopSignal;
  gateway.beginDrain();
  // Under a cluster primary, the primary has already waited out the grace period.
  const graceSeconds = cluster.isPrimary ? fleet.drainGraceSeconds : 0;
  // A worker's second signal is the primary forwarding a terminal's Ctrl-C: the primary decides.
  armStopDeadline(logger, (graceSeconds + config.drainSeconds) * 1000 + STOP_SLACK_MS, cluster.isPrimary);
  if (graceSeconds > 0) {
    logger.info({ signal, drainGraceSeconds: graceSeconds }, 'The gateway is draining: /readyz says 503, new connections are still taken during the grace period.');
    await sleep(graceSeconds * 1000);
  }
  logger.info({ signal, drainSeconds: config.drainSeconds, ...gateway.stats() }, 'The gateway is stopping: no new connections, open tunnels drain.');
  await gateway.close(config.drainSeconds * 1000);
  await admin?.close();
  logger.info(gateway.stats(), 'The gateway stopped.');
  return 0;
}

async function runPrimary(config: GatewayConfig, workers: number, logger: Logger, fleet: FleetOptions): Promise<number> {
  // Workers accept on the shared socket themselves (the kernel spreads connections) instead of the
  // primary accepting each one and passing it on, which cost the primary a core's share per
  // handshake on a 2-core machine. An operator's NODE_CLUSTER_SCHED_POLICY still wins.
  if (process.env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  let announced = false;
  let failurePrinted = false;
  let startFailed: (code: number) => void = () => undefined;
  const failedStart = new Promise<number>((resolve) => (startFailed = resolve));
  // One set of session-ticket keys for all workers: a ticket issued by one worker resumes on any.
  const ticketKeys = randomBytes(48).toString('base64');
  const spawn = (): void => {
    const worker = cluster.fork({ [TICKET_KEYS_ENV]: ticketKeys });
    worker.on('message', (message: { kind?: string; address?: string; port?: number; text?: string }) => {
      // Every worker fails the same way: the first one's line is printed, once.
      if (message.kind === 'start-failed' && !failurePrinted && typeof message.text === 'string') {
        failurePrinted = true;
        process.stderr.write(message.text);
      }
      if (message.kind === 'listening' && !announced && message.address !== undefined && message.port !== undefined) {
        announced = true;
        listenLine(logger, config, message.address, message.port, { workers });
      }
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      // A worker that dies before any listens could not start (it printed why): respawning would repeat that forever.
      if (!announced) {
        stopping = true;
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
        startFailed(code === null || code === 0 ? 1 : code);
        return;
      }
      logger.warn({ worker: worker.process.pid, code, signal }, 'A gateway worker died; starting another.');
      setTimeout(spawn, 500).unref();
    });
  };
  for (let i = 0; i < workers; i++) spawn();
  // The primary answers the admin listener; /metrics asks every worker and sums (prom-client's AggregatorRegistry).
  const admin = await startAdminIf(fleet, clusterSource(), () => announced && !stopping, logger, clusterSessions);
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      // Workers exit by their own deadline; the primary's is the same plus its grace, and it kills what is left.
      const killWorkers = (): void => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      };
      armStopDeadline(logger, (fleet.drainGraceSeconds + config.drainSeconds) * 1000 + STOP_SLACK_MS, true, killWorkers);
      const forward = (): void => {
        logger.info({ signal, workers }, 'The gateway is stopping: forwarding the signal to the workers.');
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
        const check = setInterval(() => {
          if (Object.keys(cluster.workers ?? {}).length === 0) {
            clearInterval(check);
            void (admin?.close() ?? Promise.resolve()).then(() => {
              logger.info({}, 'The gateway stopped.');
              resolve(0);
            });
          }
        }, 100);
      };
      if (fleet.drainGraceSeconds > 0) {
        logger.info({ signal, drainGraceSeconds: fleet.drainGraceSeconds }, 'The gateway is draining: /readyz says 503, new connections are still taken during the grace period.');
        setTimeout(forward, fleet.drainGraceSeconds * 1000);
      } else forward();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const code = await Promise.race([stopped, failedStart]);
  if (code !== 0) await admin?.close();
  return code;
}
