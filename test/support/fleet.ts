/**
 * A gateway fleet on loopback, as an operator runs one: N `pinhole-gateway run` processes sharing
 * one directory (certificate, users) and one ticket-keys file, each with its own public and admin
 * port and `--trusted-proxy 127.0.0.1/32`, behind Debian's HAProxy in TCP mode (send-proxy-v2,
 * health checks on each admin port's /readyz, a stats socket the test reads server states from).
 * Gateways can be stopped (SIGTERM, they drain), killed (SIGKILL) and started again on their ports.
 * Free of test-framework imports so bench/ can use it too.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_USER, gatewayCommand, isAccessRecord, type GatewayUser } from './gateway.js';
import { Program, freePort, gatewayBin, waitForPort, type LogRecord } from './processes.js';

export interface FleetOptions {
  size: number;
  /** `--restrict-to` destinations. */
  restrictTo: string[];
  drainGraceSeconds?: number;
  drainSeconds?: number;
  /** HAProxy health-check interval in ms. */
  checkIntervalMs?: number;
  hostname?: string;
  user?: GatewayUser;
  /** Further `run` flags for every gateway (e.g. `--state redis://...`). */
  runArgs?: string[];
}

export interface FleetMember {
  readonly index: number;
  readonly port: number;
  readonly adminPort: number;
  /** The running process (a new one after each start). */
  program: Program | undefined;
  /** Every process this member ran, oldest first (their logs). */
  readonly programs: Program[];
}

export interface Fleet {
  readonly dir: string;
  readonly ticketKeysFile: string;
  readonly hostname: string;
  readonly members: FleetMember[];
  /** HAProxy's public port: what clients use. */
  readonly port: number;
  readonly haproxy: Program;
  provision: (endpoint?: string) => Promise<string>;
  start: (member: FleetMember) => Promise<void>;
  /** SIGTERM and wait for the exit (the gateway drains); resolves with the exit code. */
  stop: (member: FleetMember) => Promise<number | null>;
  kill: (member: FleetMember) => Promise<void>;
  /** HAProxy's view of each server: 'UP', 'DOWN', 'NOLB' (draining), ... */
  serverStates: () => Promise<Map<string, string>>;
  /** Waits until HAProxy reports the member's server in `state`. */
  waitForServer: (member: FleetMember, state: string, timeoutMs?: number) => Promise<void>;
  metrics: (member: FleetMember) => Promise<string>;
  /** Access-log records of every process of every member. */
  accessRecords: () => LogRecord[];
  transcripts: () => string;
  close: () => Promise<void>;
}

export const serverName = (member: FleetMember): string => `gw${member.index + 1}`;

/** The value of one sample line (`name{labels} value`) in Prometheus text, 0 when absent. */
export const sampleOf = (text: string, name: string, labels = ''): number => {
  const wanted = labels === '' ? name : `${name}{${labels}}`;
  for (const line of text.split('\n')) {
    const space = line.lastIndexOf(' ');
    if (space > 0 && line.slice(0, space) === wanted) return Number(line.slice(space + 1));
  }
  return 0;
};

const adminGet = (port: number, path: string): Promise<{ status: number; body: string }> =>
  fetch(`http://127.0.0.1:${port}${path}`).then(async (res) => ({ status: res.status, body: await res.text() }));

export const haproxyConfig = ({ port, socket, members, checkIntervalMs }: { port: number; socket: string; members: FleetMember[]; checkIntervalMs: number }): string =>
  [
    'global',
    '  maxconn 4096',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  retries 3',
    '  option redispatch',
    'frontend pinhole',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  default-server send-proxy-v2 check inter ${checkIntervalMs}ms fall 1 rise 1`,
    ...members.map((m) => `  server ${serverName(m)} 127.0.0.1:${m.port} check port ${m.adminPort}`),
    '',
  ].join('\n');

export const startFleet = async (options: FleetOptions): Promise<Fleet> => {
  const hostname = options.hostname ?? 'gw.example.test';
  const user = options.user ?? DEFAULT_USER;
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-fleet-'));
  await gatewayCommand(['init', '--dir', dir, '--hostname', hostname]);
  await gatewayCommand(['user', 'add', user.name, '--dir', dir, '--password-stdin'], `${user.password}\n`);
  const ticketKeysFile = join(dir, 'ticket-keys');
  await gatewayCommand(['ticket-keys', 'rotate', '--file', ticketKeysFile]);
  const members: FleetMember[] = [];
  for (let index = 0; index < options.size; index++) members.push({ index, port: await freePort(), adminPort: await freePort(), program: undefined, programs: [] });

  const start = async (member: FleetMember): Promise<void> => {
    const program = new Program(gatewayBin, {
      name: `pinhole-gateway ${serverName(member)}`,
      args: [
        'run', '--dir', dir,
        '--listen', `127.0.0.1:${member.port}`,
        '--admin', `127.0.0.1:${member.adminPort}`,
        '--trusted-proxy', '127.0.0.1/32',
        '--ticket-keys', ticketKeysFile,
        '--drain-grace', String(options.drainGraceSeconds ?? 1),
        '--drain-seconds', String(options.drainSeconds ?? 10),
        ...options.restrictTo.flatMap((r) => ['--restrict-to', r]),
        ...(options.runArgs ?? []),
      ],
    });
    member.program = program;
    member.programs.push(program);
    // Generous: a start under full load on a small machine (tsx compiling) can take many seconds.
    await program.waitForLog((r) => r.msg === 'The gateway is listening.', 60_000, '"The gateway is listening."');
  };
  for (const member of members) await start(member);

  const port = await freePort();
  const socket = join(dir, 'haproxy.sock');
  const config = join(dir, 'haproxy.cfg');
  await writeFile(config, haproxyConfig({ port, socket, members, checkIntervalMs: options.checkIntervalMs ?? 200 }));
  const haproxy = new Program('haproxy', { name: 'haproxy', args: ['-f', config, '-db'] });
  await waitForPort(port, 15_000, () => haproxy.running);

  const serverStates = (): Promise<Map<string, string>> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(socket, () => s.end('show stat\n'));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.once('error', reject);
      s.once('close', () => {
        const states = new Map<string, string>();
        for (const line of Buffer.concat(chunks).toString().split('\n')) {
          const cells = line.split(',');
          // pxname,svname,...,status is column 18 (index 17)
          if (cells[0] === 'gateways' && cells[1]?.startsWith('gw') === true) states.set(cells[1], cells[17] ?? '');
        }
        resolve(states);
      });
    });
  const waitForServer = async (member: FleetMember, state: string, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = (await serverStates()).get(serverName(member));
      if (now === state) return;
      if (Date.now() > deadline) throw new Error(`HAProxy did not report ${serverName(member)} ${state} within ${timeoutMs} ms (it says ${now})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  for (const member of members) await waitForServer(member, 'UP', 15_000);

  const everyProgram = (): Program[] => [...members.flatMap((m) => m.programs), haproxy];
  return {
    dir,
    ticketKeysFile,
    hostname,
    members,
    port,
    haproxy,
    provision: async (endpoint = `127.0.0.1:${port}`) => {
      const result = await gatewayCommand(['provision', '--dir', dir, '--user', user.name, '--endpoint', endpoint, '--password-stdin'], `${user.password}\n`);
      return result.stdout.trim();
    },
    start,
    stop: async (member) => {
      const status = await member.program?.stop('SIGTERM', 30_000);
      return status?.code ?? null;
    },
    kill: async (member) => {
      member.program?.kill();
      await member.program?.exited;
    },
    serverStates,
    waitForServer,
    metrics: async (member) => {
      const { status, body } = await adminGet(member.adminPort, '/metrics');
      if (status !== 200) throw new Error(`/metrics of ${serverName(member)} answered ${status}`);
      return body;
    },
    accessRecords: () => members.flatMap((m) => m.programs.flatMap((p) => p.records.filter(isAccessRecord))),
    transcripts: () => everyProgram().map((p) => p.transcript()).join('\n'),
    close: async () => {
      await haproxy.stop('SIGTERM', 5_000);
      await Promise.all(members.map((m) => m.program?.stop('SIGTERM', 15_000)));
      await rm(dir, { recursive: true, force: true });
    },
  };
};

export { adminGet };

/** Something done over and over by `loops` workers until stopped: new requests during a restart. */
export interface Traffic {
  readonly ok: number;
  readonly failures: string[];
  stop: () => Promise<void>;
}

export const keepRunning = (task: () => Promise<unknown>, loops: number): Traffic => {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loop = async (): Promise<void> => {
    while (running) {
      const startedAt = Date.now();
      try {
        await task();
        ok++;
      } catch (err) {
        failures.push(`${new Date(startedAt).toISOString()} ${(err as Error).message}`);
      }
    }
  };
  const all = Promise.all(Array.from({ length: loops }, loop));
  return {
    get ok() {
      return ok;
    },
    failures,
    stop: async () => {
      running = false;
      await all;
    },
  };
};

/**
 * Restart every member one after another, as a deployment does: SIGTERM (it drains), wait for
 * HAProxy to see it down and for it to exit, start it again, wait for HAProxy to see it up, then
 * `between()` (e.g. wait for some traffic) before the next. Resolves with each exit code.
 */
export const rollingRestart = async (fleet: Fleet, between: () => Promise<void> = async () => undefined): Promise<Array<number | null>> => {
  const codes: Array<number | null> = [];
  for (const member of fleet.members) {
    const stopped = fleet.stop(member);
    await fleet.waitForServer(member, 'DOWN', 5_000);
    codes.push(await stopped);
    await fleet.start(member);
    await fleet.waitForServer(member, 'UP', 20_000);
    await between();
  }
  return codes;
};

/** The member whose current process wrote the newest access record: the gateway a client uses. */
export const memberInUse = (fleet: Fleet): FleetMember | undefined => {
  let newest: { member: FleetMember; time: number } | undefined;
  for (const member of fleet.members) {
    for (const record of member.program?.records ?? []) {
      const time = typeof record['time'] === 'string' ? Date.parse(record['time']) : 0;
      if ('bytesUp' in record && (newest === undefined || time >= newest.time)) newest = { member, time };
    }
  }
  return newest?.member;
};

export interface Recovery {
  /** From the SIGKILL to the end of the first request that succeeded; undefined when none did within `giveUpMs`. */
  readonly firstSuccessMs: number | undefined;
  /** Requests that failed after the first success (made one after another for `settleMs`). */
  readonly failuresAfter: string[];
}

/**
 * kill -9 of `victim`, then one new `request` after another: how long until one succeeds, and
 * whether any fails after that. The e2e test bounds it generously; the bench judges the target.
 */
export const killAndRecover = async (fleet: Fleet, victim: FleetMember, request: () => Promise<unknown>, { giveUpMs, settleMs }: { giveUpMs: number; settleMs: number }): Promise<Recovery> => {
  await fleet.kill(victim);
  const killedAt = process.hrtime.bigint();
  const sinceKill = (): number => Number(process.hrtime.bigint() - killedAt) / 1e6;
  let firstSuccessMs: number | undefined;
  while (firstSuccessMs === undefined && sinceKill() < giveUpMs) {
    try {
      await request();
      firstSuccessMs = sinceKill();
    } catch {
      // still routed to the dead gateway, or the client is reconnecting
    }
  }
  const failuresAfter: string[] = [];
  if (firstSuccessMs !== undefined) {
    const settledAt = sinceKill() + settleMs;
    while (sinceKill() < settledAt) await request().catch((err: unknown) => void failuresAfter.push((err as Error).message));
  }
  return { firstSuccessMs, failuresAfter };
};
