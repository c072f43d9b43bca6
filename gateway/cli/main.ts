/**
 * pinhole-gateway: init, user add, provision, run. Bad input: one human line, exit 2.
 * Each command imports what it needs when it runs, so `--help` and the small commands do not
 * pay for loading the server (TLS, HTTP/2, metrics, Redis) at start-up.
 */
import { parseArgs } from 'node:util';
import { UsageError, usage } from './common.js';
import { GUARD_FLAG_HELP } from './guard-flags.js';
import type { MuxConfigInput, MuxFlagValues } from '../mux/config.js';

const HELP = `Usage:
  pinhole-gateway init --dir DIR --hostname NAME [--force]
  pinhole-gateway user add NAME --dir DIR [--password-stdin] [--reset-password]
  pinhole-gateway user disable|enable NAME --dir DIR [--state redis://H:P]   (a disabled user's tunnels end, new ones are refused;
                             fleet-wide through the fleet's Redis: gateway.yaml state:, or --state)
  pinhole-gateway revoke --dir DIR --subject SUB|--email ADDRESS [--lift] [--state redis://H:P]   (the same for a user of an identity provider)
  pinhole-gateway sessions [--admin HOST:PORT] [--json]  (who is connected: the admin listener's /sessions, default 127.0.0.1:9090)
  pinhole-gateway provision --dir DIR --user NAME (--password-stdin | --create-user | --reset-password) [--endpoint HOST:PORT]... [--transport h2|h1|wss] [--domain D]...
      (never creates a user or changes a password unasked: --create-user for a new user with a generated password,
      --reset-password for a new one for an existing user, whose older links then stop working)
  pinhole-gateway console --dir DIR [--listen HOST:PORT] [--cert FILE --key FILE] [--gateway [NAME=]HOST:PORT]... [--state redis://HOST:PORT]   (the operator's web console)
  pinhole-gateway ticket-keys rotate --file FILE [--keep N]
  pinhole-gateway credential-keys rotate --file FILE [--keep N]   (tunnel credentials for sign-in with an identity provider)
  pinhole-gateway run --dir DIR [--listen HOST:PORT] [--restrict-to HOST:PORT]... [--allow-port N]... [--workers N] [--drain-seconds S]
                      [--header-timeout S] [--connect-timeout S] [--log-format human|json] [--endpoint HOST:PORT]...
                      [--allow-udp-port N]... (UDP ports flows may reach, default 53 443) [--udp-timeout S] (idle UDP flows close, default 30)

  --credential-lifetime S    (run) how long tunnel credentials issued after sign-in with an identity provider last (default 43200, 12 h)
  --endpoint HOST:PORT       (run) an endpoint clients are told to use in their profile, repeatable; added to gateway.yaml's
                             endpoints (clients pick it up at their next profile refresh; gateway.yaml is re-read when it changes)

Running several gateways (run; a fleet behind a load balancer):
  --admin H:P                /metrics, /healthz, /readyz on this address (off by default; never the public port)
  --drain-grace S            after SIGTERM, /readyz says 503 at once but connections are still taken for S seconds (default 0)
  --ticket-keys FILE         shared TLS session-ticket keys (first encrypts, all decrypt; reloaded when the file changes)

Sharing the port (sslh / haproxy style routes for run):
  --ssh H:P  --openvpn H:P  --http H:P  --tls H:P  --anyprot H:P     where each protocol goes
  --sni NAME=H:P ...         TLS for NAME (wildcards like *.example.org) passed through untouched
  --web H:P                  after TLS: anything that is not a proxy or tunnel request goes to this site
  --on-timeout NAME          where a client that waits for the server to speak first goes (default ssh when --ssh is set)
  --trusted-proxy CIDR ...   accept PROXY protocol v1/v2 headers from these load balancers only
  --send-proxy [ROUTE=]v1|v2 send a PROXY header to backends   --ws-path PATH   WebSocket tunnel path

Hostile clients (run; each is also a gateway.yaml field, see the README's Security section):
${GUARD_FLAG_HELP}
`;

/** `run --credential-lifetime S` replaces gateway.yaml's identity.credentialLifetime; without an identity block it means nothing. */
const credentialLifetimeOverride = (file: { identity?: object | undefined }, seconds: number | undefined): object | undefined => {
  if (seconds === undefined) return undefined;
  if (file.identity === undefined) usage('--credential-lifetime needs an identity: block in gateway.yaml (sign-in with an identity provider).');
  return { ...file.identity, credentialLifetime: seconds };
};

const need = (value: string | undefined, flag: string): string => value ?? usage(`${flag} is required.`);

const port = (text: string, flag: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) usage(`${flag} ${text} is not a port number.`);
  return n;
};

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const [command, ...rest] = argv;
  switch (command) {
    case 'init': {
      const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' }, hostname: { type: 'string' }, force: { type: 'boolean' } }, strict: true });
      const { init } = await import('./init.js');
      const pin = await init({ dir: need(values.dir, '--dir'), hostname: need(values.hostname, '--hostname'), force: values.force === true });
      process.stdout.write(`${pin}\n`);
      return 0;
    }
    case 'user': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { dir: { type: 'string' }, 'password-stdin': { type: 'boolean' }, 'reset-password': { type: 'boolean' }, state: { type: 'string' } },
        allowPositionals: true,
        strict: true,
      });
      const action = positionals[0];
      if ((action !== 'add' && action !== 'disable' && action !== 'enable') || positionals[1] === undefined || positionals.length > 2) {
        usage('Use: user add NAME --dir DIR [--password-stdin] [--reset-password], or user disable|enable NAME --dir DIR');
      }
      const name = positionals[1]!;
      if (action === 'disable' || action === 'enable') {
        if (values['password-stdin'] === true || values['reset-password'] === true) usage(`--password-stdin and --reset-password mean nothing to user ${action}.`);
        const { userStateCommand } = await import('./revoke.js');
        return userStateCommand(action, name, need(values.dir, '--dir'), values.state);
      }
      const { loadConfig } = await import('../config.js');
      const { generatePassword } = await import('../../node/htpasswd.js');
      const { readPasswordFromStdin } = await import('./common.js');
      const { setUserPassword, userExists } = await import('./user.js');
      const { passwordChangedSentence } = await import('./provision.js');
      const config = loadConfig(need(values.dir, '--dir'));
      const existed = userExists(config.usersFile, name);
      // Changing a password breaks every link made with the old one: only on request.
      if (existed && values['reset-password'] !== true)
        usage(`The user ${name} already exists; add --reset-password to give ${name} a new password (every link made for ${name} before stops working).`);
      const fromStdin = values['password-stdin'] === true;
      const password = fromStdin ? await readPasswordFromStdin() : generatePassword();
      await setUserPassword(config.usersFile, name, password);
      if (!fromStdin) process.stdout.write(`${password}\n`);
      process.stderr.write(existed ? `${passwordChangedSentence(name)}\n` : `The user ${name} was created.\n`);
      return 0;
    }
    case 'provision': {
      const { values } = parseArgs({
        args: rest,
        options: {
          dir: { type: 'string' },
          user: { type: 'string' },
          endpoint: { type: 'string', multiple: true },
          'password-stdin': { type: 'boolean' },
          'create-user': { type: 'boolean' },
          'reset-password': { type: 'boolean' },
          transport: { type: 'string' },
          domain: { type: 'string', multiple: true },
          'ws-path': { type: 'string' },
        },
        strict: true,
      });
      const { loadConfig } = await import('../config.js');
      const { generatePassword } = await import('../../node/htpasswd.js');
      const { readPasswordFromStdin } = await import('./common.js');
      const { setUserPassword, userExists } = await import('./user.js');
      const { checkPassword, provisionLink, provisionPlan, passwordChangedSentence } = await import('./provision.js');
      const { TRANSPORTS } = await import('../../shared/profile.js');
      const config = loadConfig(need(values.dir, '--dir'));
      const user = need(values.user, '--user');
      const transport = (values.transport ?? 'h2') as (typeof TRANSPORTS)[number];
      if (!TRANSPORTS.includes(transport)) usage(`--transport ${values.transport} must be h2, h1 or wss.`);
      // Creating a user or changing a password is never a side effect of asking for a link.
      const plan = provisionPlan(user, userExists(config.usersFile, user), {
        passwordStdin: values['password-stdin'] === true,
        createUser: values['create-user'] === true,
        resetPassword: values['reset-password'] === true,
      });
      if (plan.kind === 'refused') return usage(plan.sentence);
      const password = plan.kind === 'existing' || values['password-stdin'] === true ? await readPasswordFromStdin() : generatePassword();
      if (plan.kind === 'existing' && !(await checkPassword(config, user, password))) {
        process.stderr.write(`The password for ${user} does not match the users file.\n`);
        return 1;
      }
      // The link first: a certificate that cannot be read leaves the users file as it was.
      const link = await provisionLink(config, { user, endpoints: values.endpoint ?? config.endpoints, transport, domains: values.domain ?? [], password, wsPath: values['ws-path'] });
      if (plan.kind !== 'existing') await setUserPassword(config.usersFile, user, password);
      process.stdout.write(`${link}\n`);
      if (plan.kind === 'create') process.stderr.write(`The user ${user} was created; this link carries the password.\n`);
      if (plan.kind === 'reset') process.stderr.write(`${passwordChangedSentence(user)}\n`);
      return 0;
    }
    case 'run': {
      const { loadConfig } = await import('../config.js');
      const { parseEndpoint } = await import('../../shared/profile.js');
      const { MUX_FLAG_OPTIONS, muxConfigFrom } = await import('../mux/config.js');
      const { GUARD_FLAG_OPTIONS, guardOverrides } = await import('./guard-flags.js');
      const { FLEET_FLAG_OPTIONS, fleetOptionsFrom } = await import('./fleet.js');
      const { chooseLogFormat } = await import('../../shared/log.js');
      const { run } = await import('./run.js');
      const { values } = parseArgs({
        args: rest,
        options: {
          dir: { type: 'string' },
          listen: { type: 'string' },
          'restrict-to': { type: 'string', multiple: true },
          'allow-port': { type: 'string', multiple: true },
          'allow-udp-port': { type: 'string', multiple: true },
          'udp-timeout': { type: 'string' },
          'credential-lifetime': { type: 'string' },
          endpoint: { type: 'string', multiple: true },
          workers: { type: 'string' },
          'drain-seconds': { type: 'string' },
          'header-timeout': { type: 'string' },
          'connect-timeout': { type: 'string' },
          'log-format': { type: 'string' },
          ...MUX_FLAG_OPTIONS,
          ...GUARD_FLAG_OPTIONS,
          ...FLEET_FLAG_OPTIONS,
        },
        strict: true,
      });
      const dir = need(values.dir, '--dir');
      const num = (text: string | undefined, flag: string): number | undefined => {
        if (text === undefined) return undefined;
        const n = Number(text);
        if (!Number.isFinite(n) || n < 0) usage(`${flag} ${text} is not a number.`);
        return n;
      };
      const file = loadConfig(dir);
      for (const e of values.endpoint ?? []) if (parseEndpoint(e) === undefined) usage(`--endpoint ${e} is not HOST:PORT.`);
      const loaded = loadConfig(dir, {
        listen: values.listen,
        restrictTo: values['restrict-to'] === undefined ? undefined : [...file.restrictTo, ...values['restrict-to']],
        allowPorts: values['allow-port'] === undefined ? undefined : [...file.allowPorts, ...values['allow-port'].map((p) => port(p, '--allow-port'))],
        allowUdpPorts: values['allow-udp-port'] === undefined ? undefined : [...file.allowUdpPorts, ...values['allow-udp-port'].map((p) => port(p, '--allow-udp-port'))],
        udpTimeoutSeconds: num(values['udp-timeout'], '--udp-timeout'),
        identity: credentialLifetimeOverride(file, num(values['credential-lifetime'], '--credential-lifetime')),
        drainSeconds: num(values['drain-seconds'], '--drain-seconds'),
        headerTimeoutMs: values['header-timeout'] === undefined ? undefined : (num(values['header-timeout'], '--header-timeout') ?? 0) * 1000,
        connectTimeoutMs: values['connect-timeout'] === undefined ? undefined : (num(values['connect-timeout'], '--connect-timeout') ?? 0) * 1000,
        ...guardOverrides(values),
        endpoints: values.endpoint === undefined ? undefined : [...file.endpoints, ...values.endpoint],
      } as Parameters<typeof loadConfig>[1]);
      const config = { ...loaded, endpointFlags: values.endpoint ?? [] };
      const workers = num(values.workers, '--workers') ?? 1;
      const mux = muxConfigFrom(values as MuxFlagValues, (file.mux ?? {}) as MuxConfigInput);
      const logFormat = chooseLogFormat(values['log-format'], process.stdout.isTTY);
      const fleet = fleetOptionsFrom(values, config);
      return run({ config, mux, fleet, workers: Math.max(1, Math.floor(workers)), logFormat });
    }
    case 'console': {
      const { consoleCommand } = await import('./console.js');
      return consoleCommand(rest);
    }
    case 'ticket-keys': {
      const { ticketKeysCommand } = await import('./fleet.js');
      return ticketKeysCommand(rest);
    }
    case 'revoke': {
      const { revokeCommand } = await import('./revoke.js');
      return revokeCommand(rest);
    }
    case 'sessions': {
      const { sessionsCommand } = await import('./revoke.js');
      return sessionsCommand(rest);
    }
    case 'credential-keys': {
      const { credentialKeysCommand } = await import('./identity.js');
      return credentialKeysCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      return usage(`Unknown command ${command}. Commands: init, user add|disable|enable, revoke, sessions, provision, run, console, ticket-keys rotate, credential-keys rotate.`);
  }
}

/** Where a bug's details are: the stack on stderr; a running gateway's log is JSON on stdout (journalctl -u pinhole-gateway under systemd). */
const LOG_WHERE = 'on standard error just above this line, and the gateway\'s log on standard output (under systemd: journalctl -u pinhole-gateway)';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (err: unknown) => {
    const code = (err as { code?: string }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`pinhole-gateway: ${(err as Error).message}\n`);
      process.exit(2);
    }
    const { reportStartFailure } = await import('../../node/start-failure.js');
    const { default: cluster } = await import('node:cluster');
    if (cluster.isWorker && process.send !== undefined) {
      // A cluster worker hands its line to the primary, which prints the first: N workers, one line.
      let text = '';
      const status = reportStartFailure('pinhole-gateway', err, { logWhere: LOG_WHERE, stderr: (line) => void (text += line) });
      process.send({ kind: 'start-failed', text }, () => process.exit(status));
      return;
    }
    process.exit(reportStartFailure('pinhole-gateway', err, { logWhere: LOG_WHERE }));
  },
);
