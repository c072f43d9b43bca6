/**
 * `pinhole connect LINK [--listen 127.0.0.1:PORT] [--system-proxy]`
 * `pinhole connect --server HOST:PORT --user NAME --password-stdin (--pin SHA256 | --ca FILE | --insecure)`
 * Runs the engine in the foreground: JSON log lines on stdout, one of them
 * "The local proxy is listening." with `listen`; SIGTERM/SIGINT stop it gracefully (exit 0).
 */
import { parseArgs } from 'node:util';
import { PinholeError } from '../../shared/errors.js';
import { decodeLink } from '../../shared/link.js';
import { GatewayTargetSchema, parseEndpoint, PinSchema, type GatewayTarget, type Trust } from '../../shared/profile.js';
import { Engine, parseListen } from '../engine.js';
import type { UpstreamProxy } from '../tunnel/transport.js';

const USAGE = [
  'usage: pinhole connect LINK [--listen 127.0.0.1:PORT] [--system-proxy [--pac]]',
  '       pinhole connect --server HOST:PORT --user NAME --password-stdin (--pin SHA256 | --ca FILE | --insecure)',
  '                       [--server-name NAME] [--transport h2|h1|wss] [--listen 127.0.0.1:PORT] [--upstream-proxy HOST:PORT]',
].join('\n');

const OPTIONS = {
  listen: { type: 'string' },
  'system-proxy': { type: 'boolean' },
  pac: { type: 'boolean' },
  server: { type: 'string' },
  user: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  pin: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  'server-name': { type: 'string' },
  transport: { type: 'string' },
  'upstream-proxy': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

const readStdinLine = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
};

interface Plan {
  target: GatewayTarget;
  password: string;
  profileName: string;
}

const fromLink = (link: string): Plan => {
  const payload = decodeLink(link);
  const trust: Trust = payload.pin ? { kind: 'pin', pin: payload.pin } : { kind: 'system' };
  const target = GatewayTargetSchema.parse({
    endpoints: payload.endpoints,
    serverName: payload.serverName,
    trust,
    user: payload.user,
    transport: payload.transport,
    ...(payload.wsPath ? { wsPath: payload.wsPath } : {}),
    domains: payload.domains ?? [],
  });
  return { target, password: payload.secret, profileName: payload.name ?? payload.serverName };
};

const fromFlags = async (values: Record<string, string | boolean | undefined>): Promise<Plan> => {
  const server = String(values.server);
  const endpoint = parseEndpoint(server);
  if (!endpoint) throw new UsageError(`--server must be HOST:PORT, got "${server}".`);
  if (typeof values.user !== 'string' || values.user === '') throw new UsageError('--server needs --user NAME.');
  if (values['password-stdin'] !== true) throw new UsageError('--server needs --password-stdin (the password is read from standard input, never from the command line).');
  const trusts = [values.pin !== undefined, values.ca !== undefined, values.insecure === true].filter(Boolean).length;
  if (trusts !== 1) throw new UsageError('Choose exactly one of --pin SHA256, --ca FILE or --insecure.');
  let trust: Trust;
  if (values.pin !== undefined) {
    const pin = PinSchema.safeParse(values.pin);
    if (!pin.success) throw new UsageError('--pin must be the certificate SHA-256: 64 hex digits, colons allowed.');
    trust = { kind: 'pin', pin: pin.data };
  } else if (values.ca !== undefined) trust = { kind: 'ca', caFile: String(values.ca) };
  else trust = { kind: 'insecure' };
  const transport = values.transport ?? 'h2';
  if (transport !== 'h2' && transport !== 'h1' && transport !== 'wss') throw new UsageError('--transport must be h2, h1 or wss.');
  const password = await readStdinLine();
  if (password === '') throw new UsageError('No password arrived on standard input.');
  const serverName = typeof values['server-name'] === 'string' ? values['server-name'] : endpoint.host;
  const target = GatewayTargetSchema.parse({ endpoints: [server], serverName, trust, user: values.user, transport });
  return { target, password, profileName: 'command line' };
};

const fromProfile = async (name: string): Promise<Plan> => {
  // Stored profiles (settings on disk, secret in the keychain) come with the profile store.
  throw new UsageError(`"${name}" is not a pinhole:// link, and stored profiles are not available in this build.`);
};

const upstreamFrom = (text: string | undefined): UpstreamProxy | undefined => {
  if (text === undefined) return undefined;
  const endpoint = parseEndpoint(text);
  if (!endpoint) throw new UsageError(`--upstream-proxy must be HOST:PORT, got "${text}".`);
  return endpoint;
};

export async function run(argv: string[]): Promise<number> {
  let plan: Plan;
  let listen: string;
  let upstreamProxy: UpstreamProxy | undefined;
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values;
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const [first, ...extra] = parsed.positionals;
    if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}".`);
    listen = typeof values.listen === 'string' ? values.listen : '127.0.0.1:8080';
    const address = parseListen(listen);
    if (!address) throw new UsageError(`--listen must be HOST:PORT, got "${listen}".`);
    if (address.host !== '127.0.0.1' && address.host !== 'localhost' && address.host !== '::1') {
      throw new UsageError('The local proxy listens on loopback only (127.0.0.1); sharing it on the network is not supported from the command line.');
    }
    upstreamProxy = upstreamFrom(typeof values['upstream-proxy'] === 'string' ? values['upstream-proxy'] : undefined);
    if (first !== undefined && values.server !== undefined) throw new UsageError('Give either a link or --server, not both.');
    if (first !== undefined) plan = first.trim().toLowerCase().startsWith('pinhole:') ? fromLink(first) : await fromProfile(first);
    else if (values.server !== undefined) plan = await fromFlags(values);
    else throw new UsageError('Give a pinhole:// link or --server HOST:PORT.');
  } catch (err) {
    const message = err instanceof UsageError || err instanceof PinholeError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`pinhole connect: ${message}\n${err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `${USAGE}\n` : ''}`);
    return 2;
  }

  const level = values['log-level'];
  const engine = new Engine({
    logDestination: { write: (text: string) => process.stdout.write(text) },
    logLevel: level === 'debug' || level === 'warn' || level === 'error' ? level : 'info',
  });
  const { logger } = engine;
  let result: { listen: string };
  try {
    result = await engine.connect(plan.target, plan.password, { listen, profileName: plan.profileName, ...(upstreamProxy ? { upstreamProxy } : {}) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`pinhole connect: ${message}\n`);
    await engine.disconnect();
    return 1;
  }
  const address = parseListen(result.listen);
  logger.info({ listen: result.listen, pac: `http://${result.listen}/proxy.pac`, transport: engine.getStatus().transport }, 'The local proxy is listening.');

  let restoreProxy: (() => Promise<void>) | undefined;
  if (values['system-proxy'] === true && address) {
    try {
      const sysproxy = (await import('../sysproxy/index.js')) as {
        applySystemProxy: (opts: { host: string; port: number; mode: 'manual' | 'pac'; logger: typeof logger }) => Promise<{ restore(): Promise<void> }>;
      };
      const session = await sysproxy.applySystemProxy({ host: address.host, port: address.port, mode: values.pac === true ? 'pac' : 'manual', logger });
      restoreProxy = () => session.restore();
      logger.info({ mode: values.pac === true ? 'pac' : 'manual' }, 'The system proxy now points at Pinhole.');
    } catch (err) {
      logger.error({ code: err instanceof PinholeError ? err.code : undefined }, `The system proxy was not changed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'Stopping.');
      const force = setTimeout(() => resolve(0), 8_000);
      force.unref();
      void (async () => {
        await restoreProxy?.().catch((err: unknown) => logger.error({ err }, 'The system proxy could not be put back.'));
        await engine.disconnect().catch(() => undefined);
        logger.info('Stopped.');
        clearTimeout(force);
        resolve(0);
      })();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
