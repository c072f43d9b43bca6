/**
 * A real Pinhole client (`bin/pinhole connect`), started from a provisioning link or from explicit
 * flags, listening on 127.0.0.1 port 0; resolves once it logs "The local proxy is listening.".
 */
import { Program, pinholeBin, listenPortOf, type ExitStatus } from './processes.js';

export type ClientOptions = (
  | { link: string }
  | {
      server: string;
      user: string;
      password: string;
      pin?: string;
      ca?: string;
      insecure?: boolean;
      serverName?: string;
      transport?: 'h1' | 'h2' | 'wss';
    }
) & { extraArgs?: string[]; env?: NodeJS.ProcessEnv; name?: string };

export interface RunningClient {
  port: number;
  program: Program;
  stop: () => Promise<ExitStatus>;
}

export const clientArgs = (options: ClientOptions): { args: string[]; stdin: string | undefined } => {
  if ('link' in options) return { args: ['connect', options.link, '--listen', '127.0.0.1:0', ...(options.extraArgs ?? [])], stdin: undefined };
  const trust = options.pin ? ['--pin', options.pin] : options.ca ? ['--ca', options.ca] : options.insecure ? ['--insecure'] : [];
  return {
    args: [
      'connect',
      '--server', options.server,
      '--user', options.user,
      '--password-stdin',
      ...trust,
      ...(options.serverName ? ['--server-name', options.serverName] : []),
      ...(options.transport ? ['--transport', options.transport] : []),
      '--listen', '127.0.0.1:0',
      ...(options.extraArgs ?? []),
    ],
    stdin: `${options.password}\n`,
  };
};

export const startClient = async (options: ClientOptions): Promise<RunningClient> => {
  const { args, stdin } = clientArgs(options);
  const program = new Program(pinholeBin, { name: options.name ?? 'pinhole', args, stdin, env: options.env });
  let port: number;
  try {
    port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.' && typeof r['listen'] === 'string', 20_000, '"The local proxy is listening."'));
  } catch (err) {
    await program.stop('SIGKILL');
    throw err;
  }
  let stopped: Promise<ExitStatus> | undefined;
  return { port, program, stop: () => (stopped ??= program.stop('SIGTERM', 10_000)) };
};

/** What startClientOf needs of a test gateway (test/support/gateway.ts's RunningGateway has it). */
export interface GatewayForClient {
  readonly port: number;
  readonly fingerprint: string;
  readonly hostname: string;
  readonly users: readonly { readonly name: string; readonly password: string }[];
}

/** A client of a test gateway on 127.0.0.1, as its first user, with the certificate pinned. */
export const startClientOf = (gateway: GatewayForClient, options: { transport?: 'h1' | 'h2' | 'wss'; extraArgs?: string[]; name?: string } = {}): Promise<RunningClient> => {
  const user = gateway.users[0];
  if (user === undefined) throw new Error('The test gateway has no user.');
  return startClient({
    server: `127.0.0.1:${gateway.port}`,
    user: user.name,
    password: user.password,
    pin: gateway.fingerprint,
    serverName: gateway.hostname,
    ...options,
  });
};
