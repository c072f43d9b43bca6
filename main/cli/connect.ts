/**
 * `pinhole connect LINK [--listen 127.0.0.1:PORT] [--system-proxy]`
 * `pinhole connect PROFILE [...]` (a stored profile; its password comes from the OS keychain)
 * `pinhole connect --server HOST:PORT --user NAME --password-stdin (--pin SHA256 | --ca FILE | --insecure)`
 * Runs the engine in the foreground: log lines on stdout (human on a terminal, JSON otherwise or
 * with --log-format json), one of them "The local proxy is listening." with `listen`;
 * SIGTERM/SIGINT stop it gracefully (exit 0).
 */
import { BYTE_PATH_FLAG_OPTIONS, bytePathFlag, startBytePath } from './byte-path.js';
import { parseArgs } from 'node:util';
import { PinholeError } from '../../shared/errors.js';
import { targetFromLink } from '../../shared/link-target.js';
import { chooseLogFormat, logDestination, type LogFormat } from '../../shared/log.js';
import { GatewayTargetSchema, parseEndpoint, PinSchema, type GatewayTarget, type Trust } from '../../shared/profile.js';
import { stateSentence } from '../../shared/state-words.js';
import { TIMEOUT_FLAG_OPTIONS, tunnelTimeoutsFromFlags, type TunnelTimeouts } from '../../shared/tunnel-timeouts.js';
import { createAppLookup } from '../apps/index.js';
import { ConnectionGate, checkListen, type AllowList } from '../lan/allow-list.js';
import { HtpasswdCheck } from '../lan/htpasswd-check.js';
import { LocalUsers } from '../lan/local-users.js';
import { TerminalStats } from '../lan/terminal-stats.js';
import { Engine, parseListen, type EngineConnectOptions } from '../engine.js';
import { routingUnderManaged, type Routing } from '../routing.js';
import type { ManagedConfig } from '../../shared/managed.js';
import { loadManagedForCommand, type ManagedConfiguration } from '../managed/managed-config.js';
import { signInForConnection } from '../identity/sign-in.js';
import { openSystemBrowser } from './sign-in-prompt.js';
import { applySystemProxy, installRestoreOnExit, restoreStaleSystemProxy } from '../sysproxy/index.js';
import type { UpstreamProxy } from '../tunnel/transport.js';
import { sessionTimeoutMs } from './session-timeout.js';
import { resolveOsUpstream } from '../upstream/auto.js';
import { envCredentialsFor } from '../upstream/credentials.js';
import { USAGE } from './usage.js';
import { isLinkText, LINK_FILE_OPTION, linkOnCommandLineWarning, readLinkFile } from './link-source.js';
import { loadStoredProfile } from './stored-profile.js';
export { NO_PROFILE_SENTENCE } from './stored-profile.js';
import { reportStartFailure } from '../../node/start-failure.js';

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
  'secrets-file': { type: 'string' },
  ...LINK_FILE_OPTION,
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'no-early-start': { type: 'boolean' },
  'no-netwatch': { type: 'boolean' },
  'portal-probe': { type: 'string' },
  'session-timeout': { type: 'string' },
  'allow-from': { type: 'string', multiple: true },
  'local-users': { type: 'string' },
  ...TIMEOUT_FLAG_OPTIONS,
  ...BYTE_PATH_FLAG_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

/** Where `pinhole connect` logs (for a bug's report). */
const CONNECT_LOG_WHERE = 'on standard output (add --log-format json for every field)';

const readStdinLine = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
};

interface Plan {
  target: GatewayTarget;
  password: string;
  profileName: string;
  /** Domain rules (a link's or profile's `domains`) composed with the profile's app rules. */
  routingFor: (config: ManagedConfig | undefined) => Routing;
  /** Only profiles with app rules pay for finding the app behind each connection. */
  identifyApps: boolean;
  /** The administrator's managed configuration (read with the stored profile; else before connecting). */
  managed?: ManagedConfiguration;
  /** A stored profile's (or the stored settings') corporate proxy. */
  upstreamProxy?: UpstreamProxy;
  /** A sign-in profile (issue 18): its stored refresh token, and where a rotated one goes (a link's sign-in keeps it for this run only). */
  refreshToken?: string;
  saveRefreshToken?: (token: string) => Promise<void>;
  loadRefreshToken?: () => Promise<string | undefined>;
}

const fromLink = (link: string): Plan => {
  const { target, password, name } = targetFromLink(link);
  return { target, password, profileName: name, routingFor: (config) => routingUnderManaged(config, { domains: target.domains }), identifyApps: false };
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
  return { target, password, profileName: 'command line', routingFor: (config) => routingUnderManaged(config), identifyApps: false };
};

/**
 * A stored profile (the default one when `name` is undefined) with its password and, from the
 * stored settings, its corporate proxy. Nothing here writes a file but the remembered secrets file.
 */
const fromProfile = async (name: string | undefined, secretsFile: string | undefined): Promise<Plan> => {
  const { profile, password, refreshToken, store, secrets, managed } = await loadStoredProfile(name, secretsFile);
  const signIn = profile.signIn === undefined ? {} : { ...(refreshToken ? { refreshToken } : {}), saveRefreshToken: async (token: string) => void (await secrets.set(profile.secretRef, token)), loadRefreshToken: async () => (await secrets.get(profile.secretRef)) ?? undefined };
  let upstreamProxy: UpstreamProxy | undefined;
  const configured = profile.upstreamProxy ? parseEndpoint(profile.upstreamProxy.endpoint) : parseEndpoint(store.getSettings().upstreamProxy);
  if (configured) {
    const ref = profile.upstreamProxy?.secretRef;
    const upstreamPassword = ref ? await secrets.get(ref) : undefined;
    upstreamProxy = { ...configured, ...(profile.upstreamProxy?.user ? { user: profile.upstreamProxy.user } : {}), ...(upstreamPassword ? { password: upstreamPassword } : {}) };
  }
  return {
    target: profile,
    password,
    profileName: profile.name,
    routingFor: (config) => routingUnderManaged(config, { domains: profile.domains, appRules: { appRules: profile.appRules, defaultAppAction: profile.defaultAppAction } }),
    managed,
    identifyApps: Object.keys(profile.appRules).length > 0 || profile.defaultAppAction !== 'tunnel',
    ...(upstreamProxy ? { upstreamProxy } : {}),
    ...signIn,
  };
};

const upstreamFrom = (text: string | undefined): UpstreamProxy | 'auto' | undefined => {
  if (text === undefined) return undefined;
  if (text === 'auto') return 'auto';
  const endpoint = parseEndpoint(text);
  if (!endpoint) throw new UsageError(`--upstream-proxy must be HOST:PORT, got "${text}".`);
  // Secrets never ride on the command line: a sign-in for this proxy comes from https_proxy & co.
  const credentials = envCredentialsFor(endpoint, process.env);
  return credentials ? { ...endpoint, user: credentials.user, password: credentials.password } : endpoint;
};

/** `--upstream-proxy auto`: the proxy the OS was set to before Pinhole, evaluated for the first gateway endpoint. */
const autoUpstream = async (target: GatewayTarget, logger: Engine['logger']): Promise<UpstreamProxy | undefined> => {
  const gateway = parseEndpoint(target.endpoints[0] ?? '');
  if (!gateway) return undefined;
  return resolveOsUpstream({ gateway, logger });
};

/** LAN box mode's pieces: the gate (with --allow-from), the terminals' sign-in (--local-users), per-terminal counters. */
const lanOptions = async (allowList: AllowList | undefined, usersFile: string | undefined, logger: Engine['logger']): Promise<EngineConnectOptions['lan']> => {
  if (allowList === undefined && usersFile === undefined) return undefined;
  const users = usersFile === undefined ? undefined : new LocalUsers({ check: await HtpasswdCheck.load(usersFile), logger });
  return {
    terminals: new TerminalStats(),
    ...(allowList === undefined ? {} : { gate: new ConnectionGate(allowList, { logger }) }),
    ...(users === undefined ? {} : { users }),
  };
};

export async function run(argv: string[]): Promise<number> {
  let plan: Plan;
  let listen: string;
  let upstreamProxy: UpstreamProxy | 'auto' | undefined;
  let values: Record<string, string | boolean | undefined>;
  let logFormat: LogFormat;
  let allowList: AllowList | undefined;
  let localUsersFile: string | undefined;
  let tunnelTimeouts: TunnelTimeouts;
  let sessionTimeout: number | undefined;
  let bytePath: 'js' | 'native' | 'auto';
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const { 'allow-from': _allowFrom, ...single } = parsed.values;
    values = single;
    if (values.help) {
      process.stdout.write(`${USAGE.connect}\n`);
      return 0;
    }
    const [first, ...extra] = parsed.positionals;
    if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}".`);
    listen = typeof values.listen === 'string' ? values.listen : '127.0.0.1:8080';
    const address = parseListen(listen);
    if (!address) throw new UsageError(`--listen must be HOST:PORT, got "${listen}".`);
    // LAN box mode: a non-loopback --listen only with --allow-from (PINHOLE_LAN_ALLOW_LIST_REQUIRED otherwise).
    allowList = checkListen(address, parsed.values['allow-from'] ?? []);
    localUsersFile = parsed.values['local-users'];
    tunnelTimeouts = tunnelTimeoutsFromFlags(parsed.values);
    bytePath = bytePathFlag(parsed.values['byte-path']);
    upstreamProxy = upstreamFrom(typeof values['upstream-proxy'] === 'string' ? values['upstream-proxy'] : undefined);
    if (typeof values['portal-probe'] === 'string' && !/^http:\/\/[^/]/.test(values['portal-probe'])) throw new UsageError(`--portal-probe must be a plain http:// URL, got "${values['portal-probe']}".`);
    sessionTimeout = sessionTimeoutMs(typeof values['session-timeout'] === 'string' ? values['session-timeout'] : undefined);
    if (first !== undefined && values.server !== undefined) throw new UsageError('Give either a link or --server, not both.');
    logFormat = chooseLogFormat(typeof values['log-format'] === 'string' ? values['log-format'] : undefined, process.stdout.isTTY);
    const secretsFile = typeof values['secrets-file'] === 'string' ? values['secrets-file'] : undefined;
    const linkFile = typeof values['link-file'] === 'string' ? values['link-file'] : undefined;
    if (linkFile !== undefined && (first !== undefined || values.server !== undefined)) throw new UsageError('Give one of a profile name, --link-file or --server.');
    if (linkFile !== undefined) plan = fromLink(await readLinkFile(linkFile));
    else if (first !== undefined && isLinkText(first)) {
      process.stderr.write(`${linkOnCommandLineWarning('pinhole connect')}\n`);
      plan = fromLink(first);
    } else if (first !== undefined) plan = await fromProfile(first, secretsFile);
    else if (values.server !== undefined) plan = await fromFlags(values);
    // Nothing named: the default profile, if any profile was ever stored.
    else plan = await fromProfile(undefined, secretsFile);
    // --transport overrides a link's or a profile's transport (as `pinhole forward` does).
    if (values.server === undefined && values.transport !== undefined) {
      if (values.transport !== 'h2' && values.transport !== 'h1' && values.transport !== 'wss') throw new UsageError('--transport must be h2, h1 or wss.');
      plan = { ...plan, target: { ...plan.target, transport: values.transport } };
    }
  } catch (err) {
    // Bad input is 2, with the usage; a file, a profile or a link the sentence names is 2 too; a keychain or a missing password is 1.
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      process.stderr.write(`pinhole connect: ${(err as Error).message}\n${USAGE.connect}\n`);
      return 2;
    }
    return reportStartFailure('pinhole connect', err, { logWhere: CONNECT_LOG_WHERE });
  }

  const level = values['log-level'];
  const engine = new Engine({
    logDestination: logDestination(logFormat, process.stdout),
    logLevel: level === 'debug' || level === 'warn' || level === 'error' ? level : 'info',
  });
  const { logger } = engine;
  // A Pinhole that died with the system proxy set is repaired before anything else.
  await restoreStaleSystemProxy({ logger }).catch((err: unknown) => logger.error({ err }, 'A system proxy left by a previous Pinhole could not be put back.'));
  let lastState = engine.getStatus().state;
  engine.on('status', (status) => {
    if (status.state === lastState) return;
    lastState = status.state;
    if (status.state === 'reconnecting') logger.warn({ state: status.state, retryInS: status.retryAt ? Math.max(0, Math.round((status.retryAt - Date.now()) / 1000)) : undefined }, 'Reconnecting to the gateway.');
    else logger[status.state === 'error' ? 'warn' : 'info']({ state: status.state, ...(status.error ? { code: status.error.code } : {}) }, stateSentence(status));
  });
  let lan: EngineConnectOptions['lan'];
  try {
    lan = await lanOptions(allowList, localUsersFile, logger);
  } catch (err) {
    return reportStartFailure('pinhole connect', err, { logWhere: CONNECT_LOG_WHERE, logger });
  }
  const nativeBytePath = startBytePath(bytePath, logger);
  // The administrator's routing and forbidDirect apply, and a change to the managed file applies to the next requests.
  const managed = plan.managed ?? (await loadManagedForCommand('pinhole connect'));
  let routing = plan.routingFor(managed.current);
  managed.onChange(() => {
    routing = plan.routingFor(managed.current);
    if (managed.lastProblem === undefined) logger.info({ file: managed.source.where }, 'The managed configuration changed; its routing applies to the next requests.');
    else logger.error({ code: 'PINHOLE_MANAGED_INVALID', file: managed.source.where }, managed.lastProblem);
  });
  managed.watch();
  const lookup = plan.identifyApps ? createAppLookup() : undefined;
  let result: { listen: string };
  try {
    const upstream = upstreamProxy === 'auto' ? await autoUpstream(plan.target, logger) : (upstreamProxy ?? plan.upstreamProxy);
    const credential =
      plan.target.signIn === undefined
        ? undefined
        : await signInForConnection({
            target: plan.target,
            logger,
            upstreamProxy: upstream,
            refreshToken: plan.refreshToken,
            ...(plan.saveRefreshToken === undefined ? {} : { saveRefreshToken: plan.saveRefreshToken }),
            ...(plan.loadRefreshToken === undefined ? {} : { loadRefreshToken: plan.loadRefreshToken }),
            showPrompt: (prompt) => engine.showSignInPrompt(prompt),
            openBrowser: openSystemBrowser,
          });
    const options: EngineConnectOptions = {
      listen,
      profileName: plan.profileName,
      earlyStart: values['no-early-start'] !== true,
      netwatch: values['no-netwatch'] !== true,
      ...(typeof values['portal-probe'] === 'string' ? { portalProbe: values['portal-probe'] } : {}),
      tunnelTimeouts,
      ...(nativeBytePath === undefined ? {} : { nativeBytePath }),
      ...(sessionTimeout === undefined ? {} : { gatewayChoice: { sessionTimeoutMs: sessionTimeout } }),
      decide: (query) => routing.decide(query),
      pac: (address) => routing.pac(address),
      ...(lookup
        ? {
            identifyApp: async (socket) => {
              const app = await lookup.forSocket(socket);
              return app ? { path: app.path, name: app.name } : undefined;
            },
          }
        : {}),
      ...(upstream ? { upstreamProxy: upstream } : {}),
      ...(lan === undefined ? {} : { lan }),
      ...(credential === undefined ? {} : { credential }),
    };
    result = await engine.connect(credential === undefined ? plan.target : { ...plan.target, user: credential.user }, plan.password, options);
  } catch (err) {
    await engine.disconnect();
    managed.stop();
    return reportStartFailure('pinhole connect', err, { logWhere: CONNECT_LOG_WHERE, logger });
  }
  const address = parseListen(result.listen);
  // Caught from here on, before the ready line: a stop sent the moment that line appears (or while
  // the system proxy is being set) still puts the proxy back and disconnects cleanly.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ listen: result.listen, pac: `http://${result.listen}/proxy.pac`, transport: engine.getStatus().transport }, 'The local proxy is listening.');

  let restoreProxy: (() => Promise<void>) | undefined;
  if (values['system-proxy'] === true && address) {
    try {
      const session = await applySystemProxy({ host: address.host, port: address.port, mode: values.pac === true ? 'pac' : 'manual', logger });
      // SIGHUP and process exit restore too; the watchdog covers kill -9.
      const uninstall = installRestoreOnExit(session, logger);
      restoreProxy = async () => {
        await session.restore();
        uninstall();
      };
      logger.info({ mode: values.pac === true ? 'pac' : 'manual' }, 'The system proxy now points at Pinhole.');
    } catch (err) {
      logger.error({ code: err instanceof PinholeError ? err.code : undefined }, `The system proxy was not changed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const signal = await stopSignal;
  managed.stop();
  logger.info({ signal }, 'Stopping.');
  const stopped = (async () => {
    await restoreProxy?.().catch((err: unknown) => logger.error({ err }, 'The system proxy could not be put back.'));
    await engine.disconnect().catch(() => undefined);
    logger.info('Stopped.');
  })();
  let force: NodeJS.Timeout | undefined;
  await Promise.race([stopped, new Promise<void>((resolve) => (force = setTimeout(resolve, 8_000)))]);
  clearTimeout(force);
  return 0;
}
