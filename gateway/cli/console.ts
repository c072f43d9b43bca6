/**
 * `pinhole-gateway console --dir DIR [--listen H:P] [--cert F --key F] [--gateway [NAME=]H:P]... [--state URL]`:
 * the operator's web console (gateway/console/server.ts). It prints one line on stdout, the URL
 * with its one-time token; its log goes to standard error.
 *
 * The fleet: each `--gateway` is a gateway's admin address (its --admin). The console does not
 * discover gateways through Redis: a gateway knows the address it binds, not the one the console
 * can reach it at (NAT, pod IPs, a 0.0.0.0 bind), and the operator already lists these addresses
 * for the load balancer and Prometheus.
 *
 * Disable/enable, revoke and disconnect reach the fleet through its Redis: `--state redis://...`, or
 * gateway.yaml's `state:` in --dir. Without either, the console says so in the UI (a revocation
 * still goes to the `revoked` file of --dir, which the gateways sharing that directory watch).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, logDestination, chooseLogFormat } from '../../shared/log.js';
import { parseEndpoint, type Transport } from '../../shared/profile.js';
import { packageRoot } from '../../node/package-root.js';
import { ensureUiBuilt } from '../../node/ui-build.js';
import { reportStartFailure } from '../../node/start-failure.js';
import { loadConfig, penaltySettingsOf } from '../config.js';
import { PINHOLE_VERSION } from '../metrics.js';
import { FleetWatch, parseGatewayFlag, type GatewayTarget } from '../console/fleet-watch.js';
import { startOperatorConsole } from '../console/server.js';
import { provisionLink } from './provision.js';
import { usage } from './common.js';
import { controlFor } from './revoke.js';


const root = packageRoot(import.meta.url);

export async function consoleCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      listen: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      gateway: { type: 'string', multiple: true },
      state: { type: 'string' },
      endpoint: { type: 'string', multiple: true },
      'poll-seconds': { type: 'string' },
      'token-lifetime': { type: 'string' },
      'log-format': { type: 'string' },
    },
    strict: true,
  });
  const dir = values.dir ?? usage('--dir is required.');
  const listenText = values.listen ?? '127.0.0.1:9444';
  const listen = listenText.endsWith(':0') ? { ...parseEndpoint(`${listenText.slice(0, -2)}:1`), port: 0 } : parseEndpoint(listenText);
  if (listen?.host === undefined) return usage(`--listen ${listenText} is not HOST:PORT.`);
  if ((values.cert === undefined) !== (values.key === undefined)) usage('--cert and --key go together.');
  const targets: GatewayTarget[] = (values.gateway ?? []).map((g) => parseGatewayFlag(g) ?? usage(`--gateway ${g} is not [NAME=]HOST:PORT.`));
  for (const e of values.endpoint ?? []) if (parseEndpoint(e) === undefined) usage(`--endpoint ${e} is not HOST:PORT.`);
  const seconds = (text: string | undefined, flag: string, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) usage(`${flag} ${text} is not a number of seconds.`);
    return n;
  };
  const pollSeconds = seconds(values['poll-seconds'], '--poll-seconds', 5);
  const tokenLifetime = seconds(values['token-lifetime'], '--token-lifetime', 900);
  const logger = createLogger({ name: 'pinhole-gateway-console', destination: logDestination(chooseLogFormat(values['log-format'], process.stderr.isTTY), process.stderr) });
  let stop: (() => Promise<void>) | undefined;
  try {
    const config = loadConfig(dir);
    const tls = values.cert === undefined || values.key === undefined ? undefined : { cert: readFileSync(values.cert), key: readFileSync(values.key) };
    if (tls === undefined && !['127.0.0.1', '::1', 'localhost'].includes(listen.host)) {
      logger.warn({ listen: listenText }, 'The console listens beyond loopback without TLS: give it --cert and --key, or put it behind a TLS proxy.');
    }
    const staticDir = await ensureUiBuilt({
      configFile: join(root, 'vite.operator.config.ts'),
      outDir: join(root, 'renderer', 'operator', 'dist'),
      sources: [join(root, 'renderer'), join(root, 'shared')],
    });
    const fleet = new FleetWatch({ targets, intervalMs: pollSeconds * 1000, timeoutMs: Math.min(2_000, pollSeconds * 1000), logger });
    fleet.start();
    const endpoints = values.endpoint ?? config.endpoints;
    const control = await controlFor(config, values.state);
    const running = await startOperatorConsole({
      listen: { host: listen.host, port: listen.port },
      ...(tls === undefined ? {} : { tls }),
      usersFile: config.usersFile,
      fleet,
      control,
      link: (user, password, transport: Transport) => provisionLink(config, { user, password, transport, endpoints, domains: [] }),
      staticDir,
      logger,
      version: PINHOLE_VERSION,
      penalties: penaltySettingsOf(config),
      tokenLifetimeMs: tokenLifetime * 1000,
    });
    stop = async () => {
      fleet.stop();
      await running.close();
    };
    process.stdout.write(`${running.url}\n`);
  } catch (error) {
    await stop?.();
    return reportStartFailure('pinhole-gateway console', error, { logWhere: 'on standard error, just above this line', logger });
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  logger.info('The console is stopping.');
  await stop?.();
  return 0;
}
