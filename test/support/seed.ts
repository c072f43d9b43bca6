/**
 * The seed's stack (../shared/seeds/000_fdf433a2682a03c3.txt) with Debian's own programs:
 * Squid with basic_ncsa_auth and an `htpasswd -c` users file, stunnel4 in server mode in front of
 * it, and stunnel4 in client mode (verify=0, sslVersion=TLSv1.2). Each runs in the foreground in
 * its own temporary directory, listens on 127.0.0.1 only, and is stopped by its own PID.
 */
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCertificate, type TestCertificate } from './certs.js';
import { Program, freePort, runCommandOk, waitForPort } from './processes.js';

export interface SeedUser {
  name: string;
  password: string;
}

export interface RunningPeer {
  port: number;
  program: Program;
  dir: string;
  stop: () => Promise<void>;
}

const proxyIds = (): { uid: number; gid: number } | undefined => {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'proxy'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'proxy'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
};

/** A directory Squid can still use after it drops from root to user `proxy`. */
export const proxyOwnedDir = async (prefix: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  const ids = proxyIds();
  if (ids) await chown(dir, ids.uid, ids.gid);
  return dir;
};

/** Makes a users file the way the seed does: `htpasswd -c` for the first user, then `htpasswd` (apache2-utils). */
export const makeHtpasswdFile = async (path: string, users: SeedUser[]): Promise<string> => {
  let first = true;
  for (const user of users) {
    await runCommandOk('htpasswd', { args: [first ? '-cb' : '-b', path, user.name, user.password] });
    first = false;
  }
  await chmod(path, 0o644);
  return path;
};

export interface SquidOptions {
  users: SeedUser[];
  /** Extra ports CONNECT may reach besides 443 (the test origin's ports). */
  connectPorts?: number[];
  port?: number;
}

export interface RunningSquid extends RunningPeer {
  usersFile: string;
}

/**
 * Squid configured as the seed's cloud side: Debian's default safety ACLs, then the seed's
 * "insert your own rules here" block (basic_ncsa_auth, authUsers REQUIRED, allow authUsers, deny
 * all). SSL_ports also lists `connectPorts`, since the test origin is not on 443. No cache.
 */
export const startSquid = async (options: SquidOptions): Promise<RunningSquid> => {
  const dir = await proxyOwnedDir('pinhole-squid-');
  const usersFile = await makeHtpasswdFile(join(dir, 'squid_user'), options.users);
  const port = options.port ?? (await freePort());
  const sslPorts = [443, ...(options.connectPorts ?? [])].join(' ');
  const conf = [
    `http_port 127.0.0.1:${port}`,
    'visible_hostname pinhole-seed-squid',
    `pid_filename ${join(dir, 'squid.pid')}`,
    `cache_log ${join(dir, 'cache.log')}`,
    `access_log stdio:${join(dir, 'access.log')}`,
    `coredump_dir ${dir}`,
    'cache_effective_user proxy',
    'cache deny all',
    'cache_mem 8 MB',
    'pinger_enable off',
    'shutdown_lifetime 0 seconds',
    'dns_nameservers 127.0.0.1',
    '',
    `acl SSL_ports port ${sslPorts}`,
    'acl Safe_ports port 80 443 1025-65535',
    'http_access deny !Safe_ports',
    'http_access deny CONNECT !SSL_ports',
    '',
    '# The seed: insert your own rules here (http_access allow localhost commented out: localhost needs auth too)',
    `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${usersFile}`,
    'auth_param basic children 5',
    'auth_param basic realm Proxy Authentication Required',
    'auth_param basic credentialsttl 2 hours',
    'auth_param basic casesensitive on',
    'acl authUsers proxy_auth REQUIRED',
    'http_access allow authUsers',
    'http_access deny all',
    '',
  ].join('\n');
  const confPath = join(dir, 'squid.conf');
  await writeFile(confPath, conf, { mode: 0o644 });
  const program = new Program('squid', { name: 'squid', args: ['-N', '-f', confPath, '-n', `pinhole${port}`] });
  await waitForPort(port, 20_000, () => program.running).catch((err: unknown) => {
    program.kill();
    throw new Error(`${String(err)}\n${program.transcript()}`);
  });
  let stopped: Promise<void> | undefined;
  return { port, dir, usersFile, program, stop: () => (stopped ??= stopAndRemove(program, dir)) };
};

export interface StunnelServerOptions {
  /** Port to accept TLS on (a free one when omitted). */
  accept?: number;
  /** Where to forward the decrypted stream (Squid's port). */
  connect: number;
  /** Certificate+key; a fresh self-signed one (like the seed's `openssl req -x509`) when omitted. */
  cert?: TestCertificate;
  /** Certificate names when one is made here. */
  hostname?: string;
}

export interface RunningStunnelServer extends RunningPeer {
  cert: TestCertificate;
}

const stopAndRemove = async (program: Program, dir: string): Promise<void> => {
  await program.stop('SIGTERM', 5_000);
  await rm(dir, { recursive: true, force: true });
};

const startStunnel = async (name: string, dir: string, accept: number, lines: string[]): Promise<Program> => {
  const confPath = join(dir, 'stunnel.conf');
  await writeFile(confPath, `${lines.join('\n')}\n`, { mode: 0o644 });
  const program = new Program('stunnel4', { name, args: [confPath] });
  await waitForPort(accept, 20_000, () => program.running).catch((err: unknown) => {
    program.kill();
    throw new Error(`${String(err)}\n${program.transcript()}`);
  });
  return program;
};

/** stunnel4 as the seed's cloud side: `client = no`, `[squid] accept = 443, connect = 127.0.0.1:3128`. */
export const startStunnelServer = async (options: StunnelServerOptions): Promise<RunningStunnelServer> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-stunnel-server-'));
  const hostname = options.hostname ?? 'gw.example.test';
  const cert = options.cert ?? (await makeSelfSignedCertificate({ commonName: hostname, altNames: [hostname, '127.0.0.1'], dir, keyType: 'rsa' }));
  const accept = options.accept ?? (await freePort());
  const program = await startStunnel('stunnel-server', dir, accept, [
    'foreground = yes',
    'syslog = no',
    'debug = 5',
    `pid = ${join(dir, 'stunnel.pid')}`,
    `cert = ${cert.pemPath}`,
    'client = no',
    '',
    '[squid]',
    `accept = 127.0.0.1:${accept}`,
    `connect = 127.0.0.1:${options.connect}`,
  ]);
  let stopped: Promise<void> | undefined;
  return { port: accept, dir, cert, program, stop: () => (stopped ??= stopAndRemove(program, dir)) };
};

export interface StunnelClientOptions {
  accept?: number;
  /** The TLS server to wrap traffic to (the cloud side: stunnel server or the Pinhole gateway). */
  connect: number;
  /** 0 as in the seed (no certificate check). */
  verify?: number;
  sslVersion?: string;
  /** SNI to send; stunnel sends none for an IP literal when omitted. */
  sni?: string;
}

/** stunnel4 as the seed's client side: `client = yes`, `verify = 0`, `sslVersion = TLSv1.2`. */
export const startStunnelClient = async (options: StunnelClientOptions): Promise<RunningPeer> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-stunnel-client-'));
  const accept = options.accept ?? (await freePort());
  const program = await startStunnel('stunnel-client', dir, accept, [
    'foreground = yes',
    'syslog = no',
    'debug = 5',
    `pid = ${join(dir, 'stunnel.pid')}`,
    'client = yes',
    `verify = ${options.verify ?? 0}`,
    '[upstream]',
    `accept = 127.0.0.1:${accept}`,
    `connect = 127.0.0.1:${options.connect}`,
    `sslVersion = ${options.sslVersion ?? 'TLSv1.2'}`,
    ...(options.sni ? [`sni = ${options.sni}`] : []),
  ]);
  let stopped: Promise<void> | undefined;
  return { port: accept, dir, program, stop: () => (stopped ??= stopAndRemove(program, dir)) };
};

export interface SeedCloud {
  squid: RunningSquid;
  stunnel: RunningStunnelServer;
  /** The port a client connects to with TLS (stunnel server). */
  port: number;
  stop: () => Promise<void>;
}

/** The seed's whole cloud side: stunnel4 (server) -> Squid (basic auth). */
export const startSeedCloud = async (options: SquidOptions & { hostname?: string }): Promise<SeedCloud> => {
  const squid = await startSquid(options);
  try {
    const stunnel = await startStunnelServer({ connect: squid.port, hostname: options.hostname ?? 'gw.example.test' });
    let stopped: Promise<void> | undefined;
    return {
      squid,
      stunnel,
      port: stunnel.port,
      stop: () => (stopped ??= stunnel.stop().then(() => squid.stop())),
    };
  } catch (err) {
    await squid.stop();
    throw err;
  }
};

export interface SeedStack {
  cloud: SeedCloud;
  client: RunningPeer;
  /** Where applications point `-x http://user:pass@127.0.0.1:PORT` (the stunnel client). */
  port: number;
  stop: () => Promise<void>;
}

/**
 * The whole seed path: stunnel client -> stunnel server -> Squid. `between` may put something
 * (a delay relay) between the two stunnels: it gets the stunnel server's port and returns the
 * port the stunnel client should connect to.
 */
export const startSeedStack = async (
  options: SquidOptions & { hostname?: string; between?: (cloudPort: number) => Promise<number> },
): Promise<SeedStack> => {
  const cloud = await startSeedCloud(options);
  try {
    const connectPort = options.between ? await options.between(cloud.port) : cloud.port;
    const client = await startStunnelClient({ connect: connectPort });
    let stopped: Promise<void> | undefined;
    return { cloud, client, port: client.port, stop: () => (stopped ??= client.stop().then(() => cloud.stop())) };
  } catch (err) {
    await cloud.stop();
    throw err;
  }
};
