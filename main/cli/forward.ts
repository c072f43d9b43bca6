/**
 * `pinhole forward -L [BIND:]PORT:HOST:PORT LINK [--transport wss|h2|h1]`: plain TCP port
 * forwarding through the gateway, like `wstunnel -L` or `ssh -L`. `-L stdio:HOST:PORT` makes
 * standard input/output the connection, for `ssh -o ProxyCommand='pinhole forward -L stdio:%h:%p LINK'`.
 * In stdio mode stdout carries the tunnel's bytes, so logs go to stderr.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { PinholeError, toWire } from '../../shared/errors.js';
import { decodeLink, type LinkPayload } from '../../shared/link.js';
import { chooseLogFormat, createLogger, logDestination, type LogFormat, type Logger } from '../../shared/log.js';
import { TransportSchema, formatEndpoint, parseEndpoint, type Endpoint, type Transport as TransportKind, type Trust } from '../../shared/profile.js';
import { openTransport } from '../tunnel/negotiate.js';
import type { GatewayDialOptions, TunnelTarget, UpstreamProxy } from '../tunnel/transport.js';
import { WssTransport } from '../tunnel/wss-transport.js';
import { parseForwardSpec, type ForwardSpec } from './forward-spec.js';
import { relay } from '../../node/relay.js';
import { LISTENER_OPTIONS } from '../../node/socket-options.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import { LocalUdpForward } from '../udp/local-udp.js';

const USAGE =
  'usage: pinhole forward -L [BIND:]PORT:HOST:PORT | udp:[BIND:]PORT:HOST:PORT [-L ...] LINK [--transport wss|h2|h1] [--insecure] [--upstream-proxy HOST:PORT] [--log-format human|json]\n' +
  '       pinhole forward -L stdio:HOST:PORT LINK [--transport wss|h2|h1]   (logs go to stderr)';

/** What `forward` needs from a transport: a byte stream to a target, UDP flows (h2, wss), and a way to stop. */
interface Tunnels {
  open(target: TunnelTarget): Promise<Duplex>;
  openUdpFlow?(target: TunnelTarget): Promise<DatagramChannel>;
  close(): Promise<void>;
}

interface Invocation {
  specs: ForwardSpec[];
  link: LinkPayload;
  transport: TransportKind;
  insecure: boolean;
  upstreamProxy?: UpstreamProxy;
  logFormat?: string;
}

function parseInvocation(argv: string[]): Invocation | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      L: { type: 'string', short: 'L', multiple: true },
      local: { type: 'string', multiple: true },
      transport: { type: 'string' },
      insecure: { type: 'boolean' },
      'upstream-proxy': { type: 'string' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) return 'help';
  const specs = [...(values.L ?? []), ...(values.local ?? [])].map(parseForwardSpec);
  if (specs.length === 0) throw new PinholeError('PINHOLE_USAGE', 'At least one -L [BIND:]PORT:HOST:PORT or -L stdio:HOST:PORT is needed.');
  if (specs.some((s) => s.kind === 'stdio') && specs.length > 1) throw new PinholeError('PINHOLE_USAGE', '-L stdio:HOST:PORT cannot be combined with other -L forwards.');
  if (positionals.length !== 1) throw new PinholeError('PINHOLE_USAGE', positionals.length === 0 ? 'The provisioning link is missing.' : 'Give exactly one provisioning link.');
  const link = decodeLink(positionals[0]!);
  const kind = values.transport === undefined ? link.transport : TransportSchema.safeParse(values.transport);
  if (typeof kind !== 'string' && !kind.success) throw new PinholeError('PINHOLE_USAGE', `--transport ${values.transport} is not one of wss, h2, h1.`);
  let upstreamProxy: UpstreamProxy | undefined;
  if (values['upstream-proxy'] !== undefined) {
    const endpoint = parseEndpoint(values['upstream-proxy']);
    if (endpoint === undefined) throw new PinholeError('PINHOLE_USAGE', `--upstream-proxy ${values['upstream-proxy']} is not HOST:PORT.`);
    upstreamProxy = { host: endpoint.host, port: endpoint.port };
  }
  return {
    specs,
    link,
    transport: typeof kind === 'string' ? kind : kind.data,
    insecure: values.insecure === true,
    ...(upstreamProxy === undefined ? {} : { upstreamProxy }),
    ...(values['log-format'] === undefined ? {} : { logFormat: values['log-format'] }),
  };
}

async function openTunnels(inv: Invocation, logger: Logger): Promise<Tunnels> {
  const endpoints = inv.link.endpoints.map((e) => parseEndpoint(e)).filter((e): e is Endpoint => e !== undefined);
  const trust: Trust = inv.insecure ? { kind: 'insecure' } : inv.link.pin !== undefined ? { kind: 'pin', pin: inv.link.pin } : { kind: 'system' };
  if (trust.kind === 'insecure') logger.warn({ code: 'PINHOLE_TLS_INSECURE' }, 'TLS verification is off: anyone on the path can read your traffic and password.');
  const options: GatewayDialOptions = {
    endpoints,
    serverName: inv.link.serverName,
    trust,
    user: inv.link.user,
    password: inv.link.secret,
    logger,
    ...(inv.upstreamProxy === undefined ? {} : { upstreamProxy: inv.upstreamProxy }),
  };
  if (inv.transport === 'wss') {
    const stdio = inv.specs[0]?.kind === 'stdio';
    const transport = new WssTransport({ ...options, ...(inv.link.wsPath === undefined ? {} : { wsPath: inv.link.wsPath }), poolSize: stdio ? 0 : 2 });
    // Listening forwards check the gateway up front, so a bad pin or an unreachable gateway fails now.
    if (!stdio) await transport.warm();
    return transport;
  }
  return openTransport(inv.transport, options);
}

/** `-L udp:[BIND:]PORT:HOST:PORT`: a local UDP socket, one flow through the tunnel per source address. */
async function listenUdp(spec: Extract<ForwardSpec, { kind: 'udp' }>, tunnels: Tunnels, logger: Logger): Promise<LocalUdpForward> {
  const open = tunnels.openUdpFlow?.bind(tunnels);
  if (open === undefined) throw new PinholeError('PINHOLE_UDP_UNSUPPORTED');
  const forward = await LocalUdpForward.listen({ bindHost: spec.bindHost, bindPort: spec.bindPort, target: spec.target, openUdpFlow: (host, port) => open({ host, port }), logger });
  const address = forward.address();
  logger.info({ listen: `udp:${formatEndpoint({ host: address.address, port: address.port })}`, target: formatEndpoint(spec.target) }, 'The UDP forward is listening.');
  return forward;
}

function listen(spec: Extract<ForwardSpec, { kind: 'listen' }>, tunnels: Tunnels, logger: Logger, locals: Set<Socket>): Promise<Server> {
  const target = formatEndpoint(spec.target);
  // Half-open: the application's FIN ends only its direction of the tunnel.
  const server = createServer({ ...LISTENER_OPTIONS, allowHalfOpen: true }, (local: Socket) => {
    locals.add(local);
    local.once('close', () => locals.delete(local));
    local.on('error', () => local.destroy());
    local.pause();
    tunnels.open(spec.target).then(
      (tunnel) => {
        tunnel.on('error', () => tunnel.destroy());
        if (local.destroyed) {
          tunnel.destroy();
          return;
        }
        // Half-close, as `ssh -L` does: a client may send its request, shut down its side and
        // still read the whole answer; a failure on either side tears the pair down.
        relay(local, tunnel);
      },
      (err: unknown) => {
        const wire = toWire(err);
        logger.warn({ target, code: wire.code }, `A forwarded connection could not be opened: ${wire.message}`);
        local.destroy();
      },
    );
  });
  return new Promise<Server>((resolve, reject) => {
    server.once('error', (err) => reject(new PinholeError('PINHOLE_USAGE', `Cannot listen on ${formatEndpoint({ host: spec.bindHost, port: spec.bindPort })}: ${err.message}.`)));
    server.listen(spec.bindPort, spec.bindHost, () => {
      const address = server.address() as AddressInfo;
      logger.info({ listen: formatEndpoint({ host: address.address, port: address.port }), target }, 'The forward is listening.');
      resolve(server);
    });
  });
}

async function stdio(spec: Extract<ForwardSpec, { kind: 'stdio' }>, tunnels: Tunnels): Promise<void> {
  const tunnel = await tunnels.open(spec.target);
  // Standard input and output are the connection: ssh's EOF is a FIN, the destination's FIN closes stdout.
  const local = Duplex.from({ readable: process.stdin, writable: process.stdout });
  await new Promise<void>((resolve) => relay(local, tunnel, { done: () => resolve() }));
}

export async function run(argv: string[]): Promise<number> {
  let inv: Invocation | 'help';
  try {
    inv = parseInvocation(argv);
  } catch (err) {
    const message = err instanceof PinholeError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`pinhole forward: ${message}\n${USAGE}\n`);
    return 2;
  }
  if (inv === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const isStdio = inv.specs[0]?.kind === 'stdio';
  const level = (process.env.PINHOLE_LOG_LEVEL as 'info' | undefined) ?? (isStdio ? 'warn' : 'info');
  // stdio mode: stdout carries the forwarded bytes, so the log goes to stderr.
  const logStream = isStdio ? process.stderr : process.stdout;
  let format: LogFormat;
  try {
    format = chooseLogFormat(inv.logFormat, logStream.isTTY);
  } catch (err) {
    process.stderr.write(`pinhole forward: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  const logger = createLogger({ name: 'pinhole-forward', level, destination: logDestination(format, logStream) });
  let tunnels: Tunnels | undefined;
  const servers: Server[] = [];
  const locals = new Set<Socket>();
  const udps: LocalUdpForward[] = [];
  try {
    tunnels = await openTunnels(inv, logger);
    if (isStdio) {
      await stdio(inv.specs[0] as Extract<ForwardSpec, { kind: 'stdio' }>, tunnels);
      await tunnels.close();
      return 0;
    }
    for (const spec of inv.specs) {
      if (spec.kind === 'udp') udps.push(await listenUdp(spec, tunnels, logger));
      else if (spec.kind === 'listen') servers.push(await listen(spec, tunnels, logger, locals));
    }
  } catch (err) {
    const wire = toWire(err);
    logger.error({ code: wire.code }, wire.message);
    process.stderr.write(`pinhole forward: ${wire.message}\n`);
    for (const server of servers) server.close();
    await Promise.all(udps.map((udp) => udp.close()));
    await tunnels?.close().catch(() => undefined);
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  logger.info('The forward is stopping.');
  for (const server of servers) server.close();
  for (const local of locals) local.destroy();
  await Promise.all(udps.map((udp) => udp.close()));
  await tunnels.close().catch(() => undefined);
  return 0;
}
