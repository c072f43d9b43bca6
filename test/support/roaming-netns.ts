/**
 * A laptop's networks in namespaces (issue 20), made per test and deleted at the end even on
 * failure: a client namespace with two uplinks (veth pairs up1 and up2) to a gateway namespace,
 * which holds the gateway's address 10.220.0.1 (and fd20:220::1) on its loopback, a real
 * `pinhole-gateway run` on port 443 and an origin on its own 127.0.0.1. Optionally a third uplink
 * (up3) to a portal namespace that owns the same gateway address: a plain HTTP server on 80 that
 * redirects to a sign-in page and a TLS server on 443 with another certificate, both reporting what
 * they received as JSON lines. Moving the client's default route between uplinks is the laptop
 * changing networks; every address lives only inside these namespaces.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCertificate } from './certs.js';
import { DEFAULT_USER, gatewayCommand } from './gateway.js';
import { Peers, Program, gatewayBin, listenPortOf, pinholeBin, runCommand, runCommandOk, type CommandResult } from './processes.js';

export const GATEWAY_V4 = '10.220.0.1';
export const GATEWAY_V6 = 'fd20:220::1';
/** The name that resolves to both families inside the client namespace (its own /etc/hosts). */
export const GATEWAY_NAME = 'gw.roaming.test';

const UPLINKS = {
  up1: { client: '10.220.1.2/24', far: '10.220.1.1', farCidr: '10.220.1.1/24', client6: 'fd20:221::2/64', far6: 'fd20:221::1', far6Cidr: 'fd20:221::1/64' },
  up2: { client: '10.220.2.2/24', far: '10.220.2.1', farCidr: '10.220.2.1/24', client6: 'fd20:222::2/64', far6: 'fd20:222::1', far6Cidr: 'fd20:222::1/64' },
  up3: { client: '10.220.3.2/24', far: '10.220.3.1', farCidr: '10.220.3.1/24', client6: 'fd20:223::2/64', far6: 'fd20:223::1', far6Cidr: 'fd20:223::1/64' },
} as const;
export type Uplink = keyof typeof UPLINKS;

const ip = (args: string[]): Promise<CommandResult> => runCommandOk('ip', { name: 'ip', args });

// The origin, inside the gateway namespace: /hello answers at once, /slow streams for `seconds`.
const ORIGIN = `
const http = require('node:http');
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://origin');
  if (url.pathname === '/slow') {
    const chunk = Buffer.alloc(16 * 1024, 120);
    const end = Date.now() + Number(url.searchParams.get('seconds') || 5) * 1000;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    console.log(JSON.stringify({ msg: 'slow download started' }));
    const timer = setInterval(() => {
      if (Date.now() >= end) { clearInterval(timer); res.end(); return; }
      res.write(chunk);
    }, 20);
    res.on('close', () => clearInterval(timer));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello over the moving network\\n');
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ msg: 'origin ready', port: this.address().port })); });
process.on('SIGTERM', () => process.exit(0));
`;

// The captive portal, inside the portal namespace: every plain HTTP request is redirected to the
// sign-in page; TLS on 443 with a certificate that is not the gateway's. Both say what arrived.
const PORTAL = `
const http = require('node:http');
const tls = require('node:tls');
const fs = require('node:fs');
const [certFile, keyFile, address] = process.argv.slice(1);
const say = (fields) => console.log(JSON.stringify(fields));
http.createServer((req, res) => {
  say({ msg: 'portal http request', path: req.url, authorization: req.headers['authorization'] ?? null, proxyAuthorization: req.headers['proxy-authorization'] ?? null });
  res.writeHead(302, { location: 'http://' + address + '/login?from=pinhole-test' });
  res.end();
}).listen(80, '0.0.0.0');
const portal = tls.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => {
  say({ msg: 'portal tls handshake' });
  socket.on('data', (data) => say({ msg: 'portal tls data', bytes: data.length }));
  socket.on('error', () => undefined);
});
// A client that checks the certificate hangs up inside the handshake: the connection is what is seen.
portal.on('connection', () => say({ msg: 'portal tls connection' }));
portal.on('tlsClientError', (err) => say({ msg: 'portal tls aborted', reason: err.code ?? err.message }));
portal.listen(443, '0.0.0.0', () => say({ msg: 'portal ready' }));
process.on('SIGTERM', () => process.exit(0));
`;

export interface RoamingNetworkOptions {
  /** A third uplink to a captive portal that owns the gateway's address. */
  portal?: boolean;
  /** IPv6 beside IPv4 on every link, and GATEWAY_NAME resolving to both in the client namespace. */
  dualStack?: boolean;
}

export interface RoamingClient {
  program: Program;
  /** The local proxy's port, inside the client namespace. */
  port: number;
}

export class RoamingNetwork {
  readonly client: string;
  readonly gateway: string;
  readonly portalNs: string | undefined;
  gatewayProgram!: Program;
  origin!: Program;
  portal: Program | undefined;
  originPort = 0;
  /** The provisioning link, endpoint 10.220.0.1:443 (or GATEWAY_NAME:443 with dualStack). */
  link = '';
  private dir = '';

  private constructor(
    private readonly peers: Peers,
    private readonly options: RoamingNetworkOptions,
  ) {
    const run = randomBytes(3).toString('hex');
    this.client = `phrc-${run}`;
    this.gateway = `phrg-${run}`;
    this.portalNs = options.portal ? `phrp-${run}` : undefined;
  }

  static async start(peers: Peers, options: RoamingNetworkOptions = {}): Promise<RoamingNetwork> {
    const network = new RoamingNetwork(peers, options);
    await network.build();
    return network;
  }

  private async build(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'pinhole-roaming-'));
    this.peers.defer(() => rm(this.dir, { recursive: true, force: true }));
    for (const ns of [this.client, this.gateway, ...(this.portalNs ? [this.portalNs] : [])]) {
      await ip(['netns', 'add', ns]);
      this.peers.defer(() => runCommand('ip', { args: ['netns', 'del', ns] }));
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const six = this.options.dualStack === true;
    for (const ns of [this.gateway, ...(this.portalNs ? [this.portalNs] : [])]) {
      await ip(['-n', ns, 'addr', 'add', `${GATEWAY_V4}/32`, 'dev', 'lo']);
      if (six) await ip(['-n', ns, 'addr', 'add', `${GATEWAY_V6}/128`, 'dev', 'lo']);
    }
    const links: Array<[Uplink, string]> = [
      ['up1', this.gateway],
      ['up2', this.gateway],
      ...(this.portalNs ? [['up3', this.portalNs] as [Uplink, string]] : []),
    ];
    for (const [uplink, far] of links) {
      const a = UPLINKS[uplink];
      const farName = `dn${uplink.slice(2)}`;
      await ip(['-n', this.client, 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', farName, 'netns', far]);
      if (six) {
        // No duplicate address detection: the addresses are usable at once.
        for (const [ns, dev] of [[this.client, uplink], [far, farName]] as const) await runCommandOk('ip', { args: ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.accept_dad=0`] });
      }
      await ip(['-n', this.client, 'addr', 'add', a.client, 'dev', uplink]);
      await ip(['-n', far, 'addr', 'add', a.farCidr, 'dev', farName]);
      if (six) {
        await ip(['-n', this.client, 'addr', 'add', a.client6, 'dev', uplink, 'nodad']);
        await ip(['-n', far, 'addr', 'add', a.far6Cidr, 'dev', farName, 'nodad']);
      }
      await ip(['-n', this.client, 'link', 'set', uplink, 'up']);
      await ip(['-n', far, 'link', 'set', farName, 'up']);
    }
    await this.useUplink('up1');
    await this.startOrigin();
    await this.startGateway();
    if (this.portalNs) await this.startPortal(this.portalNs);
  }

  /** The client's default route(s) go through `uplink` (the laptop joined that network). */
  async useUplink(uplink: Uplink): Promise<void> {
    const a = UPLINKS[uplink];
    await ip(['-n', this.client, 'route', 'replace', 'default', 'via', a.far, 'dev', uplink]);
    if (this.options.dualStack) await ip(['-n', this.client, '-6', 'route', 'replace', 'default', 'via', a.far6, 'dev', uplink]);
  }

  /** The client's address on `uplink` goes away (the network it came from is gone). */
  async dropAddress(uplink: Uplink): Promise<void> {
    await ip(['-n', this.client, 'addr', 'del', UPLINKS[uplink].client, 'dev', uplink]);
  }

  /** The client's address on `uplink` is back (that network can be joined again). */
  async restoreAddress(uplink: Uplink): Promise<void> {
    await ip(['-n', this.client, 'addr', 'replace', UPLINKS[uplink].client, 'dev', uplink]);
  }

  async setLink(uplink: Uplink, state: 'up' | 'down'): Promise<void> {
    await ip(['-n', this.client, 'link', 'set', uplink, state]);
  }

  /** The gateway namespace silently drops everything it would send to the client over one family. */
  async blackholeFamily(family: 4 | 6): Promise<void> {
    for (const uplink of ['up1', 'up2'] as const) {
      const a = UPLINKS[uplink];
      if (family === 4) await ip(['-n', this.gateway, 'route', 'add', 'blackhole', a.client.replace(/\/24$/, '/32')]);
      else await ip(['-n', this.gateway, '-6', 'route', 'add', 'blackhole', a.client6.replace(/\/64$/, '/128')]);
    }
  }

  private async startOrigin(): Promise<void> {
    const origin = this.peers.watch(this.inside(this.gateway, process.execPath, ['-e', ORIGIN], 'origin'));
    this.peers.defer(() => origin.stop('SIGTERM', 5_000));
    const ready = await origin.waitForLog((r) => r.msg === 'origin ready', 20_000, 'the origin ready');
    this.origin = origin;
    this.originPort = Number(ready['port']);
  }

  private async startGateway(): Promise<void> {
    const dir = join(this.dir, 'gateway');
    await gatewayCommand(['init', '--dir', dir, '--hostname', GATEWAY_NAME]);
    await gatewayCommand(['user', 'add', DEFAULT_USER.name, '--dir', dir, '--password-stdin'], `${DEFAULT_USER.password}\n`);
    const listen = this.options.dualStack ? '[::]:443' : `${GATEWAY_V4}:443`;
    const gateway = this.peers.watch(this.inside(this.gateway, gatewayBin, ['run', '--dir', dir, '--listen', listen, '--restrict-to', `127.0.0.1:${this.originPort}`], 'pinhole-gateway'));
    this.peers.defer(() => gateway.stop('SIGTERM', 10_000));
    await gateway.waitForLog((r) => r.msg === 'The gateway is listening.', 30_000, '"The gateway is listening."');
    this.gatewayProgram = gateway;
    const endpoint = this.options.dualStack ? `${GATEWAY_NAME}:443` : `${GATEWAY_V4}:443`;
    if (this.options.dualStack) {
      // `ip netns exec` puts /etc/netns/NAME/hosts over /etc/hosts for programs run in NAME.
      const etc = join('/etc/netns', this.client);
      await mkdir(etc, { recursive: true });
      this.peers.defer(() => rm(etc, { recursive: true, force: true }));
      await writeFile(join(etc, 'hosts'), `127.0.0.1 localhost\n${GATEWAY_V6} ${GATEWAY_NAME}\n${GATEWAY_V4} ${GATEWAY_NAME}\n`);
    }
    const provisioned = await gatewayCommand(['provision', '--dir', dir, '--user', DEFAULT_USER.name, '--endpoint', endpoint, '--password-stdin'], `${DEFAULT_USER.password}\n`);
    this.link = provisioned.stdout.trim();
  }

  private async startPortal(ns: string): Promise<void> {
    const cert = await makeSelfSignedCertificate({ commonName: 'portal.hotel.test', altNames: ['portal.hotel.test', GATEWAY_V4], dir: await mkdtemp(join(this.dir, 'portal-')) });
    const portal = this.peers.watch(this.inside(ns, process.execPath, ['-e', PORTAL, cert.certPath, cert.keyPath, GATEWAY_V4], 'portal'));
    this.peers.defer(() => portal.stop('SIGTERM', 5_000));
    await portal.waitForLog((r) => r.msg === 'portal ready', 20_000, 'the portal ready');
    this.portal = portal;
  }

  /** `pinhole connect LINK` in the client namespace (JSON logs), with `args`; resolves once its proxy listens. */
  async startClient(args: string[] = [], name = 'pinhole-client', env?: NodeJS.ProcessEnv): Promise<RoamingClient> {
    const program = this.peers.watch(this.inside(this.client, pinholeBin, ['connect', this.link, '--listen', '127.0.0.1:0', '--log-format', 'json', ...args], name, env));
    this.peers.defer(() => program.stop('SIGTERM', 10_000));
    const record = await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 30_000, '"The local proxy is listening."');
    return { program, port: listenPortOf(record) };
  }

  /** `pinhole connect LINK` in the client namespace that is expected to fail at start: its exit status and output. */
  failingClient(): Promise<CommandResult> {
    return runCommand('ip', { name: 'pinhole-client-at-start', args: ['netns', 'exec', this.client, pinholeBin, 'connect', this.link, '--listen', '127.0.0.1:0', '--log-format', 'json'], timeoutMs: 60_000 });
  }

  /**
   * curl in the client namespace through the client's proxy to the origin's `path`: exit code,
   * body and status. `maxTimeS` is the application's own timeout.
   */
  curl(client: RoamingClient, path: string, maxTimeS = 15): Promise<CommandResult> {
    return runCommand('ip', {
      name: 'curl',
      args: ['netns', 'exec', this.client, 'curl', '-sS', '--max-time', String(maxTimeS), '-o', '-', '-w', '\n%{http_code}', '-x', `http://127.0.0.1:${client.port}`, `http://127.0.0.1:${this.originPort}${path}`],
      timeoutMs: (maxTimeS + 15) * 1000,
    });
  }

  private inside(ns: string, command: string, args: string[], name: string, env?: NodeJS.ProcessEnv): Program {
    return new Program('ip', { name, args: ['netns', 'exec', ns, command, ...args], ...(env === undefined ? {} : { env }) });
  }
}

/** curl's HTTP status from RoamingNetwork.curl's output (the last line). */
export const httpStatusOf = (result: CommandResult): string => result.stdout.trim().split('\n').at(-1) ?? '';
