/**
 * Every start-up failure names its cause and the fix (issue 21). Each command of both CLIs
 * (pinhole connect, forward, console, profile; pinhole-gateway run, init, user, provision,
 * ticket-keys) is started for real with every cause that applies to it: a port this test holds on
 * 127.0.0.1, a port below 1024 (the command runs as `nobody`, since root may bind one), an
 * address that is not on this machine (192.0.2.1, TEST-NET-1: only a bind is tried, nothing is
 * sent), a file replaced by a directory or left unreadable to `nobody` (root reads any mode), and
 * malformed files this test writes. Each row checks the exit status, the code on the command's
 * one stderr line, and that the line names the port or file; no row may end in PINHOLE_INTERNAL.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ErrorCode } from '../../shared/errors.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { Program, freePort, gatewayBin, pinholeBin, runCommand } from '../support/processes.js';

/** `nobody` on Debian; the files a `nobody` row reads are made readable to it. */
const NOBODY = 65534;
/** Below 1024, and not one a test machine is likely to serve. */
const LOW_PORT = 1023;
/** TEST-NET-1 (RFC 5737): never an address of this machine. */
const NOT_LOCAL = '192.0.2.1';

interface Fixture {
  readonly root: string;
  /** A TCP port this test listens on (127.0.0.1). */
  readonly heldPort: number;
  /** A UDP port this test has bound (127.0.0.1). */
  readonly heldUdpPort: number;
  readonly gateway: RunningGateway;
  readonly link: string;
}

interface Row {
  readonly command: 'pinhole' | 'pinhole-gateway';
  readonly cause: string;
  /** The arguments, after preparing what the cause needs (a gateway directory with a bad file, ...). */
  readonly args: (f: Fixture, at: Scratch) => Promise<string[]>;
  readonly asNobody?: boolean;
  readonly stdin?: string;
  readonly env?: Record<string, string>;
  readonly exit: number;
  readonly code: ErrorCode;
  /** What the sentence must name: the port, the file, the field. */
  readonly names: (f: Fixture, at: Scratch) => string[];
}

/** One row's own directory, and the paths it made there. */
interface Scratch {
  readonly dir: string;
  readonly paths: Record<string, string>;
}

let fixture: Fixture;
let held: Server;
let heldUdp: UdpSocket;

before(async () => {
  const root = await mkdtemp(join(tmpdir(), 'pinhole-startup-'));
  await chmod(root, 0o755);
  held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  heldUdp = createSocket('udp4');
  await new Promise<void>((resolve) => heldUdp.bind(0, '127.0.0.1', resolve));
  const gateway = await startGateway();
  const link = await gateway.provision();
  const address = held.address();
  fixture = { root, heldPort: typeof address === 'object' && address ? address.port : 0, heldUdpPort: heldUdp.address().port, gateway, link };
});

after(async () => {
  await fixture?.gateway.stop();
  held?.close();
  heldUdp?.close();
  if (fixture) await rm(fixture.root, { recursive: true, force: true });
});

let rows = 0;
/** A directory of the row's own, readable by `nobody`. */
const scratch = async (): Promise<Scratch> => {
  const dir = join(fixture.root, `row-${++rows}`);
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  return { dir, paths: {} };
};

/** A copy of the running gateway's directory (gateway.yaml, cert, key, users), every file readable by `nobody`, then `change`d. */
const gatewayDir = async (at: Scratch, change: (dir: string) => Promise<void> = async () => undefined): Promise<string> => {
  const dir = join(at.dir, 'gw');
  await cp(fixture.gateway.dir, dir, { recursive: true });
  await chmod(dir, 0o755);
  for (const file of ['gateway.yaml', 'cert.pem', 'key.pem', 'users.htpasswd']) await chmod(join(dir, file), 0o644);
  await change(dir);
  at.paths.gw = dir;
  return dir;
};

/** Replaces `file` with a directory: unreadable as a file, whoever reads it (root included). */
const makeDirectory = async (file: string): Promise<void> => {
  await rm(file, { force: true });
  await mkdir(file);
};

/** A home and config directory of the row's own, owned by `nobody` when the row runs as it. */
const homeEnv = async (at: Scratch, nobody: boolean): Promise<Record<string, string>> => {
  const home = join(at.dir, 'home');
  await mkdir(join(home, 'pinhole'), { recursive: true });
  if (nobody) {
    await chown(home, NOBODY, NOBODY);
    await chown(join(home, 'pinhole'), NOBODY, NOBODY);
  }
  return { HOME: home, PINHOLE_CONFIG_DIR: join(home, 'pinhole'), XDG_CONFIG_HOME: join(home, '.config') };
};

const MALFORMED_USERS = 'alice:$2y$10$abcdefghijklmnopqrstuv\nthis line has no colon\n';

const run = (args: string[]): string[] => ['run', ...args];
const gw = (cause: string, row: Omit<Row, 'command' | 'cause'>): Row => ({ command: 'pinhole-gateway', cause, ...row });
const ph = (cause: string, row: Omit<Row, 'command' | 'cause'>): Row => ({ command: 'pinhole', cause, ...row });
const file = (at: Scratch, name: string): string => at.paths[name] ?? assert.fail(`no ${name} prepared`);

const ROWS: Row[] = [
  // pinhole-gateway run
  gw('run: the public port is held by another program', {
    args: async (f, at) => run(['--dir', await gatewayDir(at), '--listen', `127.0.0.1:${f.heldPort}`]),
    exit: 2,
    code: 'PINHOLE_ADDRESS_IN_USE',
    names: (f) => [`127.0.0.1:${f.heldPort}`, `(pid ${process.pid})`, '--listen'],
  }),
  gw('run --workers 2: the public port is held by another program (one line, not one per worker)', {
    args: async (f, at) => run(['--dir', await gatewayDir(at), '--listen', `127.0.0.1:${f.heldPort}`, '--workers', '2']),
    exit: 2,
    code: 'PINHOLE_ADDRESS_IN_USE',
    names: (f) => [`127.0.0.1:${f.heldPort}`, `(pid ${process.pid})`, '--listen'],
  }),
  gw('run: a port below 1024 without CAP_NET_BIND_SERVICE', {
    asNobody: true,
    args: async (_f, at) => run(['--dir', await gatewayDir(at), '--listen', `127.0.0.1:${LOW_PORT}`]),
    exit: 2,
    code: 'PINHOLE_PORT_PRIVILEGED',
    names: () => [`127.0.0.1:${LOW_PORT}`, 'CAP_NET_BIND_SERVICE', 'AmbientCapabilities', 'load balancer'],
  }),
  gw('run: an address that is not on this machine', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at), '--listen', `${NOT_LOCAL}:8443`]),
    exit: 2,
    code: 'PINHOLE_ADDRESS_NOT_LOCAL',
    names: () => [`${NOT_LOCAL}:8443`, 'not an address of this machine'],
  }),
  gw('run: the certificate is a directory', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => makeDirectory(join(d, 'cert.pem'))), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'cert.pem'), 'is a directory'],
  }),
  gw('run: the certificate is not PEM', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => writeFile(join(d, 'cert.pem'), 'not a certificate\n')), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'cert.pem'), 'PEM certificate'],
  }),
  gw('run: the key is not PEM', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => writeFile(join(d, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'key.pem'), 'private key'],
  }),
  gw('run: the key is unreadable to the user running the gateway', {
    asNobody: true,
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => chmod(join(d, 'key.pem'), 0o600)), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'key.pem'), 'permission denied', `uid ${NOBODY}`],
  }),
  gw('run: a users file line is not NAME:HASH', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => writeFile(join(d, 'users.htpasswd'), MALFORMED_USERS)), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'users.htpasswd'), 'line 2'],
  }),
  gw('run: the users file is a directory', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => makeDirectory(join(d, 'users.htpasswd'))), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'users.htpasswd')],
  }),
  gw('run: gateway.yaml has a field the schema does not know', {
    args: async (_f, at) =>
      run(['--dir', await gatewayDir(at, async (d) => writeFile(join(d, 'gateway.yaml'), `${await readFile(join(d, 'gateway.yaml'), 'utf8')}listne: 127.0.0.1:0\n`)), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_CONFIG_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'gateway.yaml'), 'field listne', 'line '],
  }),
  gw('run: a gateway.yaml field has a wrong value', {
    args: async (_f, at) =>
      run(['--dir', await gatewayDir(at, async (d) => writeFile(join(d, 'gateway.yaml'), `${await readFile(join(d, 'gateway.yaml'), 'utf8')}drainSeconds: soon\n`)), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_CONFIG_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'gateway.yaml'), 'field drainSeconds', 'line '],
  }),
  gw('run: gateway.yaml is not YAML', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => writeFile(join(d, 'gateway.yaml'), 'hostname: gw.example.test\nallowPorts: [443\n')), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_CONFIG_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'gateway.yaml'), 'not valid YAML', 'line '],
  }),
  gw('run: gateway.yaml is missing', {
    args: async (_f, at) => run(['--dir', await gatewayDir(at, (d) => rm(join(d, 'gateway.yaml'))), '--listen', '127.0.0.1:0']),
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'gateway.yaml'), 'does not exist', 'pinhole-gateway init'],
  }),
  gw('run: the ticket-keys file holds a short key', {
    args: async (_f, at) => {
      const dir = await gatewayDir(at, (d) => writeFile(join(d, 'keys'), 'c2hvcnQ=\n'));
      return run(['--dir', dir, '--listen', '127.0.0.1:0', '--ticket-keys', join(dir, 'keys')]);
    },
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'keys'), 'line 1'],
  }),
  gw('run: the ticket-keys file is a directory', {
    args: async (_f, at) => {
      const dir = await gatewayDir(at, (d) => mkdir(join(d, 'keys')));
      return run(['--dir', dir, '--listen', '127.0.0.1:0', '--ticket-keys', join(dir, 'keys')]);
    },
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'keys'), 'is a directory'],
  }),
  gw('run: --admin on the public address', {
    args: async (_f, at) => {
      const port = await freePort();
      at.paths.port = String(port);
      return run(['--dir', await gatewayDir(at), '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${port}`]);
    },
    exit: 2,
    code: 'PINHOLE_ADMIN_ON_PUBLIC_ADDRESS',
    names: (_f, at) => [`--admin 127.0.0.1:${file(at, 'port')}`, 'another port'],
  }),
  gw('run: the --admin port is held by another program', {
    args: async (f, at) => run(['--dir', await gatewayDir(at), '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${f.heldPort}`]),
    exit: 2,
    code: 'PINHOLE_ADDRESS_IN_USE',
    names: (f) => [`127.0.0.1:${f.heldPort}`, `(pid ${process.pid})`, '--admin'],
  }),
  // pinhole-gateway init, user, provision, ticket-keys
  gw('init: --dir lies under a regular file', {
    args: async (_f, at) => {
      await writeFile(join(at.dir, 'plain'), '');
      return ['init', '--dir', join(at.dir, 'plain', 'gw'), '--hostname', 'gw.example.test'];
    },
    exit: 1,
    code: 'PINHOLE_WRITE_FAILED',
    names: (_f, at) => [join(at.dir, 'plain', 'gw'), 'not a directory'],
  }),
  gw('user add: the users file is a directory', {
    stdin: 'a password\n',
    args: async (_f, at) => ['user', 'add', 'bob', '--dir', await gatewayDir(at, (d) => makeDirectory(join(d, 'users.htpasswd'))), '--password-stdin'],
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'users.htpasswd')],
  }),
  gw('user add: a users file line is not NAME:HASH', {
    stdin: 'a password\n',
    args: async (_f, at) => ['user', 'add', 'bob', '--dir', await gatewayDir(at, (d) => writeFile(join(d, 'users.htpasswd'), MALFORMED_USERS)), '--password-stdin'],
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'users.htpasswd'), 'line 2'],
  }),
  gw('user add: gateway.yaml has a wrong value', {
    stdin: 'a password\n',
    args: async (_f, at) => ['user', 'add', 'bob', '--dir', await gatewayDir(at, (d) => writeFile(join(d, 'gateway.yaml'), 'hostname: gw.example.test\nallowPorts: [https]\n')), '--password-stdin'],
    exit: 2,
    code: 'PINHOLE_CONFIG_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'gateway.yaml'), 'field allowPorts.0', 'line 2'],
  }),
  gw('provision: the users file is a directory', {
    stdin: 'a password\n',
    args: async (_f, at) => ['provision', '--dir', await gatewayDir(at, (d) => makeDirectory(join(d, 'users.htpasswd'))), '--user', 'alice', '--password-stdin'],
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'users.htpasswd')],
  }),
  gw('provision: the certificate is not PEM', {
    args: async (_f, at) => ['provision', '--dir', await gatewayDir(at, (d) => writeFile(join(d, 'cert.pem'), 'garbage\n')), '--user', 'carol', '--create-user'],
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(file(at, 'gw'), 'cert.pem'), 'PEM certificate'],
  }),
  gw('provision: gateway.yaml is missing', {
    args: async (_f, at) => ['provision', '--dir', await gatewayDir(at, (d) => rm(join(d, 'gateway.yaml'))), '--user', 'alice'],
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(file(at, 'gw'), 'gateway.yaml')],
  }),
  gw('ticket-keys rotate: the file holds something that is not a key', {
    args: async (_f, at) => {
      await writeFile(join(at.dir, 'keys'), '# keys\nnot base64 at all!\n');
      return ['ticket-keys', 'rotate', '--file', join(at.dir, 'keys')];
    },
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(at.dir, 'keys'), 'line 2'],
  }),
  gw('ticket-keys rotate: the file is a directory', {
    args: async (_f, at) => {
      await mkdir(join(at.dir, 'keys'));
      return ['ticket-keys', 'rotate', '--file', join(at.dir, 'keys')];
    },
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(at.dir, 'keys'), 'is a directory'],
  }),
  // pinhole connect
  ph('connect: the --listen port is held by another program', {
    args: async (f) => ['connect', f.link, '--listen', `127.0.0.1:${f.heldPort}`],
    exit: 2,
    code: 'PINHOLE_ADDRESS_IN_USE',
    names: (f) => [`127.0.0.1:${f.heldPort}`, `(pid ${process.pid})`, '--listen'],
  }),
  ph('connect: a --listen port below 1024', {
    asNobody: true,
    args: async (f) => ['connect', f.link, '--listen', `127.0.0.1:${LOW_PORT}`],
    exit: 2,
    code: 'PINHOLE_PORT_PRIVILEGED',
    names: () => [`127.0.0.1:${LOW_PORT}`, 'CAP_NET_BIND_SERVICE'],
  }),
  ph('connect: a --local-users line is not NAME:HASH', {
    args: async (f, at) => {
      await writeFile(join(at.dir, 'terminals'), MALFORMED_USERS);
      return ['connect', f.link, '--listen', '127.0.0.1:0', '--local-users', join(at.dir, 'terminals')];
    },
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(at.dir, 'terminals'), 'line 2'],
  }),
  ph('connect: the --local-users file is a directory', {
    args: async (f, at) => {
      await mkdir(join(at.dir, 'terminals'));
      return ['connect', f.link, '--listen', '127.0.0.1:0', '--local-users', join(at.dir, 'terminals')];
    },
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(at.dir, 'terminals'), 'is a directory'],
  }),
  ph('connect: the --ca file is a directory', {
    stdin: 'a password\n',
    args: async (f, at) => {
      await mkdir(join(at.dir, 'ca.pem'));
      return ['connect', '--server', `127.0.0.1:${f.gateway.port}`, '--server-name', f.gateway.hostname, '--user', 'alice', '--password-stdin', '--ca', join(at.dir, 'ca.pem'), '--listen', '127.0.0.1:0'];
    },
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(at.dir, 'ca.pem'), 'is a directory'],
  }),
  // pinhole forward
  ph('forward: the -L port is held by another program', {
    args: async (f) => ['forward', '-L', `127.0.0.1:${f.heldPort}:127.0.0.1:9`, f.link],
    exit: 2,
    code: 'PINHOLE_ADDRESS_IN_USE',
    names: (f) => [`127.0.0.1:${f.heldPort}`, `(pid ${process.pid})`, '-L'],
  }),
  ph('forward: the -L udp: port is held by another program', {
    args: async (f) => ['forward', '-L', `udp:127.0.0.1:${f.heldUdpPort}:127.0.0.1:53`, f.link],
    exit: 2,
    code: 'PINHOLE_ADDRESS_IN_USE',
    names: (f) => [`127.0.0.1:${f.heldUdpPort}`, `(pid ${process.pid})`],
  }),
  ph('forward: an -L address that is not on this machine', {
    args: async (f) => ['forward', '-L', `${NOT_LOCAL}:8022:127.0.0.1:9`, f.link],
    exit: 2,
    code: 'PINHOLE_ADDRESS_NOT_LOCAL',
    names: () => [`${NOT_LOCAL}:8022`],
  }),
  ph('forward: an -L port below 1024', {
    asNobody: true,
    args: async (f) => ['forward', '-L', `127.0.0.1:${LOW_PORT}:127.0.0.1:9`, f.link],
    exit: 2,
    code: 'PINHOLE_PORT_PRIVILEGED',
    names: () => [`127.0.0.1:${LOW_PORT}`, 'CAP_NET_BIND_SERVICE'],
  }),
  // pinhole console
  ph('console: the --listen port is held by another program', {
    args: async (f) => ['console', '--listen', `127.0.0.1:${f.heldPort}`],
    exit: 2,
    code: 'PINHOLE_ADDRESS_IN_USE',
    names: (f) => [`127.0.0.1:${f.heldPort}`, `(pid ${process.pid})`],
  }),
  ph('console: a --listen port below 1024', {
    asNobody: true,
    args: async () => ['console', '--listen', `127.0.0.1:${LOW_PORT}`],
    exit: 2,
    code: 'PINHOLE_PORT_PRIVILEGED',
    names: () => [`127.0.0.1:${LOW_PORT}`, 'CAP_NET_BIND_SERVICE'],
  }),
  ph('console: the --secrets-file is not a secrets file', {
    env: { PINHOLE_SECRETS_PASSPHRASE: 'a passphrase' },
    args: async (_f, at) => {
      await writeFile(join(at.dir, 'secrets'), '{"not":"ours"}\n');
      return ['console', '--listen', '127.0.0.1:0', '--secrets-file', join(at.dir, 'secrets')];
    },
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(at.dir, 'secrets')],
  }),
  // pinhole profile
  ph('profile import: the --secrets-file is a directory', {
    env: { PINHOLE_SECRETS_PASSPHRASE: 'a passphrase' },
    args: async (f, at) => {
      await mkdir(join(at.dir, 'secrets'));
      return ['profile', 'import', f.link, '--secrets-file', join(at.dir, 'secrets')];
    },
    exit: 2,
    code: 'PINHOLE_FILE_UNREADABLE',
    names: (_f, at) => [join(at.dir, 'secrets'), 'is a directory'],
  }),
  ph('profile import: the --secrets-file is not a secrets file', {
    env: { PINHOLE_SECRETS_PASSPHRASE: 'a passphrase' },
    args: async (f, at) => {
      await writeFile(join(at.dir, 'secrets'), 'plain text\n');
      return ['profile', 'import', f.link, '--secrets-file', join(at.dir, 'secrets')];
    },
    exit: 2,
    code: 'PINHOLE_FILE_INVALID',
    names: (_f, at) => [join(at.dir, 'secrets')],
  }),
];

/** The command's line for a failed start: "PROGRAM: SENTENCE (PINHOLE_CODE)". */
const FAILURE_LINE = /^(pinhole(?:-gateway)? ?[a-z]*): (.*) \((PINHOLE_[A-Z_]+)\)$/;

for (const row of ROWS) {
  test(`${row.command} ${row.cause}: exit ${row.exit}, ${row.code}, and the line names it`, async () => {
    const at = await scratch();
    const args = await row.args(fixture, at);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...(await homeEnv(at, row.asNobody === true)), ...row.env };
    const bin = row.command === 'pinhole' ? pinholeBin : gatewayBin;
    const [command, commandArgs] = row.asNobody === true ? ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', bin, ...args]] : [bin, args];
    const result = await runCommand(command, { name: `${row.command} (${row.cause})`, args: commandArgs, env, ...(row.stdin === undefined ? {} : { stdin: row.stdin }), timeoutMs: 90_000 });
    const transcript = `${[row.command, ...args].join(' ')}\nexit ${result.code}\nstderr:\n${result.stderr}\nstdout:\n${result.stdout}`;
    const lines = result.stderr.split('\n').map((l) => FAILURE_LINE.exec(l.trim())).filter((m) => m !== null);
    assert.equal(lines.length, 1, `one line says why the start failed:\n${transcript}`);
    const [, , sentence = '', code] = lines[0] ?? [];
    assert.notEqual(code, 'PINHOLE_INTERNAL', `a start-up cause is not a bug:\n${transcript}`);
    assert.equal(code, row.code, transcript);
    assert.equal(result.code, row.exit, transcript);
    for (const named of row.names(fixture, at)) assert.ok(sentence.includes(named), `the sentence names ${named}:\n${transcript}`);
  });
}

test('pinhole-gateway run with a Redis that does not answer starts with local state and says so (PINHOLE_STATE_UNREACHABLE, naming the address)', async () => {
  const at = await scratch();
  const redisPort = await freePort();
  const dir = await gatewayDir(at, async (d) => writeFile(join(d, 'gateway.yaml'), `${await readFile(join(d, 'gateway.yaml'), 'utf8')}state: redis://127.0.0.1:${redisPort}\n`));
  const program = new Program(gatewayBin, { name: 'pinhole-gateway (Redis down)', args: ['run', '--dir', dir, '--listen', '127.0.0.1:0'] });
  try {
    const warning = await program.waitForLog((r) => r['code'] === 'PINHOLE_STATE_UNREACHABLE', 60_000, 'the PINHOLE_STATE_UNREACHABLE line');
    assert.match(String(warning.msg), new RegExp(`Redis at 127\\.0\\.0\\.1:${redisPort} does not answer at start; the gateway starts with local state`));
    await program.waitForLog((r) => r.msg === 'The gateway is listening.', 60_000, '"The gateway is listening."');
    assert.ok(program.running, 'the gateway runs without Redis');
  } finally {
    await program.stop('SIGTERM', 15_000);
  }
});
