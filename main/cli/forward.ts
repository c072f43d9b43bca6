/**
 * `pinhole forward -L [BIND:]PORT:HOST:PORT LINK [--transport wss|h2|h1]`: plain TCP port
 * forwarding through the gateway, like `wstunnel -L` or `ssh -L`. `-L stdio:HOST:PORT` makes
 * standard input/output the connection, for `ssh -o ProxyCommand='pinhole forward -L stdio:%h:%p LINK'`.
 * In stdio mode stdout carries the tunnel's bytes, so logs go to stderr.
 */
import { BYTE_PATH_FLAG_OPTIONS, bytePathFlag, startBytePath } from './byte-path.js';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { PinholeError, toWire } from '../../shared/errors.js';
import { decodeLink, type LinkPayload } from '../../shared/link.js';
import { chooseLogFormat, createLogger, logDestination, type LogFormat, type Logger } from '../../shared/log.js';
import { TransportSchema, formatEndpoint, parseEndpoint, type Endpoint, type Transport as TransportKind, type Trust } from '../../shared/profile.js';
import { openTransport } from '../tunnel/negotiate.js';
import { TunnelOpener } from '../tunnel/opener.js';
import { sessionTimeoutMs } from './session-timeout.js';
import type { GatewayDialOptions, Transport, UpstreamProxy } from '../tunnel/transport.js';
import { WssTransport } from '../tunnel/wss-transport.js';
import { parseForwardSpec, type ForwardSpec } from './forward-spec.js';
import { relay } from '../../node/relay.js';
import { relayTunnel } from '../../node/native/tunnel-stream.js';
import { TIMEOUT_FLAG_OPTIONS, tunnelTimeoutsFromFlags, type TunnelTimeouts } from '../../shared/tunnel-timeouts.js';
import { LISTENER_OPTIONS } from '../../node/socket-options.js';
import { LocalUdpForward } from '../udp/local-udp.js';
import { USAGE } from './usage.js';
import { isLinkText, LINK_FILE_OPTION, linkOnCommandLineWarning, readLinkFile } from './link-source.js';
import { loadStoredProfile } from './stored-profile.js';
import { listenError } from '../../node/listen-error.js';
import { reportStartFailure } from '../../node/start-failure.js';

/** Where the gateway and its credential come from: a stored profile's name, --link-file, or a link (with a warning). */
type LinkSource = { kind: 'link'; text: string } | { kind: 'file'; file: string } | { kind: 'profile'; name: string };

interface Invocation {
  specs: ForwardSpec[];
  source: LinkSource;
  secretsFile?: string;
  /** --transport, when given (else the link's or the profile's). */
  transportFlag?: TransportKind;
  insecure: boolean;
  upstreamProxy?: UpstreamProxy;
  logFormat?: string;
  tunnelTimeouts: TunnelTimeouts;
  bytePath: 'js' | 'native' | 'auto';
  /** `--session-timeout`: how long open tunnels outlive a gateway that stopped answering. */
  sessionTimeoutMs?: number;
  /** false with --no-early-start: every tunnel waits for the gateway's answer before its first byte. */
  earlyStart: boolean;
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
      'secrets-file': { type: 'string' },
      ...LINK_FILE_OPTION,
      ...TIMEOUT_FLAG_OPTIONS,
      ...BYTE_PATH_FLAG_OPTIONS,
      'session-timeout': { type: 'string' },
      'no-early-start': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) return 'help';
  const specs = [...(values.L ?? []), ...(values.local ?? [])].map(parseForwardSpec);
  if (specs.length === 0) throw new PinholeError('PINHOLE_USAGE', 'At least one -L [BIND:]PORT:HOST:PORT or -L stdio:HOST:PORT is needed.');
  if (specs.some((s) => s.kind === 'stdio') && specs.length > 1) throw new PinholeError('PINHOLE_USAGE', '-L stdio:HOST:PORT cannot be combined with other -L forwards.');
  const linkFile = values['link-file'];
  if (positionals.length > 1 || (linkFile !== undefined && positionals.length > 0)) throw new PinholeError('PINHOLE_USAGE', 'Give one profile name, --link-file FILE or one link.');
  if (linkFile === undefined && positionals.length === 0) throw new PinholeError('PINHOLE_USAGE', 'The profile name (or --link-file FILE) is missing.');
  // With -L stdio standard input is the connection, so it cannot carry the link as well.
  if (linkFile === '-' && specs[0]?.kind === 'stdio') throw new PinholeError('PINHOLE_USAGE', '-L stdio uses standard input for the connection: give a profile name or --link-file FILE.');
  const first = positionals[0] ?? '';
  const source: LinkSource = linkFile !== undefined ? { kind: 'file', file: linkFile } : isLinkText(first) ? { kind: 'link', text: first } : { kind: 'profile', name: first };
  if (source.kind === 'link') decodeLink(source.text);
  const kind = values.transport === undefined ? undefined : TransportSchema.safeParse(values.transport);
  if (kind !== undefined && !kind.success) throw new PinholeError('PINHOLE_USAGE', `--transport ${values.transport} is not one of wss, h2, h1.`);
  let upstreamProxy: UpstreamProxy | undefined;
  if (values['upstream-proxy'] !== undefined) {
    const endpoint = parseEndpoint(values['upstream-proxy']);
    if (endpoint === undefined) throw new PinholeError('PINHOLE_USAGE', `--upstream-proxy ${values['upstream-proxy']} is not HOST:PORT.`);
    upstreamProxy = { host: endpoint.host, port: endpoint.port };
  }
  const sessionTimeout = sessionTimeoutMs(values['session-timeout']);
  return {
    specs,
    source,
    ...(kind === undefined ? {} : { transportFlag: kind.data }),
    ...(values['secrets-file'] === undefined ? {} : { secretsFile: values['secrets-file'] }),
    insecure: values.insecure === true,
    tunnelTimeouts: tunnelTimeoutsFromFlags(values),
    bytePath: bytePathFlag(values['byte-path']),
    earlyStart: values['no-early-start'] !== true,
    ...(upstreamProxy === undefined ? {} : { upstreamProxy }),
    ...(values['log-format'] === undefined ? {} : { logFormat: values['log-format'] }),
    ...(sessionTimeout === undefined ? {} : { sessionTimeoutMs: sessionTimeout }),
  };
}

/** The link's payload, or a stored profile's: only a password link (sign-in links are `pinhole connect`'s). */
async function linkFor(inv: Invocation): Promise<LinkPayload> {
  const link = await linkPayloadFor(inv);
  if (link.secret === undefined || link.user === undefined) {
    throw new PinholeError('PINHOLE_USAGE', 'A sign-in link cannot forward ports, only a link with a password can: import the sign-in link (`pinhole profile import LINK`) and use `pinhole connect`.');
  }
  return link;
}

/** The link's payload, or a stored profile's as a link would carry it (its password from the keychain). */
async function linkPayloadFor(inv: Invocation): Promise<LinkPayload> {
  const { source } = inv;
  if (source.kind === 'link') {
    process.stderr.write(`${linkOnCommandLineWarning('pinhole forward')}\n`);
    return decodeLink(source.text);
  }
  if (source.kind === 'file') return decodeLink(await readLinkFile(source.file));
  const { profile, password } = await loadStoredProfile(source.name, inv.secretsFile);
  if (profile.trust.kind === 'ca') throw new PinholeError('PINHOLE_USAGE', `Profile "${profile.name}" trusts a CA file, which pinhole forward does not take; use pinhole connect.`);
  return {
    name: profile.name,
    endpoints: profile.endpoints,
    serverName: profile.serverName,
    ...(profile.trust.kind === 'pin' ? { pin: profile.trust.pin } : {}),
    user: profile.user,
    ...(profile.signIn === undefined ? { secret: password } : {}),
    transport: profile.transport,
    wsPath: profile.wsPath,
    domains: profile.domains,
  };
}

async function openTunnels(inv: Invocation, link: LinkPayload, logger: Logger): Promise<Transport> {
  const transport = inv.transportFlag ?? link.transport;
  const endpoints = link.endpoints.map((e) => parseEndpoint(e)).filter((e): e is Endpoint => e !== undefined);
  const trust: Trust = inv.insecure ? { kind: 'insecure' } : link.pin !== undefined ? { kind: 'pin', pin: link.pin } : { kind: 'system' };
  if (trust.kind === 'insecure') logger.warn({ code: 'PINHOLE_TLS_INSECURE' }, 'TLS verification is off: anyone on the path can read your traffic and password.');
  const options: GatewayDialOptions = {
    endpoints,
    serverName: link.serverName,
    trust,
    user: link.user ?? '',
    password: link.secret ?? '',
    logger,
    ...(inv.upstreamProxy === undefined ? {} : { upstreamProxy: inv.upstreamProxy }),
    ...(inv.sessionTimeoutMs === undefined ? {} : { choice: { sessionTimeoutMs: inv.sessionTimeoutMs } }),
  };
  const nativeBytePath = startBytePath(inv.bytePath, logger);
  if (nativeBytePath !== undefined) options.nativeBytePath = nativeBytePath;
  if (transport === 'wss') {
    const stdio = inv.specs[0]?.kind === 'stdio';
    const transport = new WssTransport({ ...options, ...(link.wsPath === undefined ? {} : { wsPath: link.wsPath }), poolSize: stdio ? 0 : 2 });
    // Listening forwards check the gateway up front, so a bad pin or an unreachable gateway fails now.
    if (!stdio) await transport.warm();
    return transport;
  }
  return openTransport(transport, options);
}

/** `-L udp:[BIND:]PORT:HOST:PORT`: a local UDP socket, one flow through the tunnel per source address. */
async function listenUdp(spec: Extract<ForwardSpec, { kind: 'udp' }>, tunnels: Transport, logger: Logger): Promise<LocalUdpForward> {
  const open = tunnels.openUdpFlow?.bind(tunnels);
  if (open === undefined) throw new PinholeError('PINHOLE_UDP_UNSUPPORTED');
  const forward = await LocalUdpForward.listen({ bindHost: spec.bindHost, bindPort: spec.bindPort, target: spec.target, openUdpFlow: (host, port) => open({ host, port }), logger });
  const address = forward.address();
  logger.info({ listen: `udp:${formatEndpoint({ host: address.address, port: address.port })}`, target: formatEndpoint(spec.target) }, 'The UDP forward is listening.');
  return forward;
}

function listen(spec: Extract<ForwardSpec, { kind: 'listen' }>, tunnels: TunnelOpener, logger: Logger, locals: Set<Socket>, timeouts: TunnelTimeouts): Promise<Server> {
  const target = formatEndpoint(spec.target);
  // Half-open: the application's FIN ends only its direction of the tunnel.
  const server = createServer({ ...LISTENER_OPTIONS, allowHalfOpen: true }, (local: Socket) => {
    locals.add(local);
    local.once('close', () => locals.delete(local));
    local.on('error', () => local.destroy());
    local.pause();
    // Started early when the opener allows it (the gateway accepted this target recently): the
    // application's first bytes travel right behind the CONNECT instead of a round trip later.
    const early = tunnels.openEarly(spec.target);
    const refused = (err: unknown): void => {
      const wire = toWire(err);
      logger.warn({ target, code: wire.code, ...(early ? { startedEarly: true } : {}) }, `A forwarded connection could not be opened: ${wire.message}`);
      local.destroy();
    };
    const opening = early ?? tunnels.open(spec.target).then((stream) => ({ stream, answered: undefined }));
    opening.then(({ stream: tunnel, answered }) => {
      tunnel.on('error', () => tunnel.destroy());
      if (local.destroyed) {
        tunnel.destroy();
        return;
      }
      // Half-close, as `ssh -L` does: a client may send its request, shut down its side and
      // still read the whole answer; a failure on either side tears the pair down. An early
      // tunnel delivers nothing until the gateway accepted it; a refusal then ends the connection.
      // A native tunnel takes both ends over (node/native/tunnel-stream.ts).
      relayTunnel(local, tunnel, { ...timeouts, ...(answered ? { holdDown: answered } : {}) });
      answered?.catch(refused);
    }, refused);
  });
  return new Promise<Server>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, { host: spec.bindHost, port: spec.bindPort, what: 'The forward', flag: '-L' })));
    server.listen(spec.bindPort, spec.bindHost, () => {
      const address = server.address() as AddressInfo;
      logger.info({ listen: formatEndpoint({ host: address.address, port: address.port }), target }, 'The forward is listening.');
      resolve(server);
    });
  });
}

async function stdio(spec: Extract<ForwardSpec, { kind: 'stdio' }>, tunnels: TunnelOpener, timeouts: TunnelTimeouts): Promise<void> {
  const tunnel = await tunnels.open(spec.target);
  // Standard input and output are the connection: ssh's EOF is a FIN, the destination's FIN closes stdout.
  const local = Duplex.from({ readable: process.stdin, writable: process.stdout });
  await new Promise<void>((resolve) => relay(local, tunnel, { ...timeouts, done: () => resolve() }));
}

export async function run(argv: string[]): Promise<number> {
  let inv: Invocation | 'help';
  try {
    inv = parseInvocation(argv);
  } catch (err) {
    const message = err instanceof PinholeError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`pinhole forward: ${message}\n${USAGE.forward}\n`);
    return 2;
  }
  if (inv === 'help') {
    process.stdout.write(`${USAGE.forward}\n`);
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
    process.stderr.write(`pinhole forward: ${err instanceof Error ? err.message : String(err)}\n${USAGE.forward}\n`);
    return 2;
  }
  const logger = createLogger({ name: 'pinhole-forward', level, destination: logDestination(format, logStream) });
  let tunnels: Transport | undefined;
  const servers: Server[] = [];
  const locals = new Set<Socket>();
  const udps: LocalUdpForward[] = [];
  try {
    tunnels = await openTunnels(inv, await linkFor(inv), logger);
    // A target the gateway accepted recently is opened early (transports that can: h2).
    const opener = new TunnelOpener({ transport: tunnels, earlyStart: inv.earlyStart });
    if (isStdio) {
      await stdio(inv.specs[0] as Extract<ForwardSpec, { kind: 'stdio' }>, opener, inv.tunnelTimeouts);
      await tunnels.close();
      return 0;
    }
    for (const spec of inv.specs) {
      if (spec.kind === 'udp') udps.push(await listenUdp(spec, tunnels, logger));
      else if (spec.kind === 'listen') servers.push(await listen(spec, opener, logger, locals, inv.tunnelTimeouts));
    }
  } catch (err) {
    for (const server of servers) server.close();
    await Promise.all(udps.map((udp) => udp.close()));
    await tunnels?.close().catch(() => undefined);
    return reportStartFailure('pinhole forward', err, { logWhere: isStdio ? 'on standard error' : 'on standard output', logger });
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
