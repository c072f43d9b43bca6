/**
 * `pinhole doctor` names the broken hop (issue 25), in two network namespaces this test makes: a
 * client, and a "network" beyond its veth pair (10.214.0.0/24, which exists only inside them)
 * holding the gateway on 10.214.0.1:443 with an origin on its loopback, a TLS-inspecting
 * firewall's server on 10.214.0.11:443 (`openssl s_server` with a CA-issued certificate for the
 * gateway's name), an address with nothing listening (10.214.0.12), a route into a black hole
 * (10.214.1.13, forwarded nowhere: SYNs vanish), and a Squid that refuses every CONNECT. The
 * client's DNS is dnsmasq on its own loopback (/etc/netns/NS/resolv.conf), authoritative for
 * doctor.test: a name it does not list gets NXDOMAIN. Each case runs the real CLI inside the
 * client and checks the hop it stops at, its verdict, and a non-zero exit; the healthy path exits 0.
 * Needs root (ip netns).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeLink, encodeLink } from '../../shared/link.js';
import type { DoctorReport } from '../../shared/doctor.js';
import { startInspectingTls, INSPECTION_CA_NAME } from '../support/inspecting-tls.js';
import { insideNetns } from '../support/netns.js';
import { DEFAULT_USER, gatewayCommand } from '../support/gateway.js';
import { Peers, Program, explainFailure, freePort, gatewayBin, pinholeBin, runCommand, runCommandOk } from '../support/processes.js';
import { proxyOwnedDir } from '../support/seed.js';

const run = randomBytes(3).toString('hex');
const CLIENT = `phdc-${run}`;
const NET = `phdn-${run}`;
const NAME = 'gw.doctor.test';
const peers = new Peers();
let dir: string;
let originPort: number;
let link: string;

const ip = (args: string[]): ReturnType<typeof runCommandOk> => runCommandOk('ip', { name: 'ip', args });
const inside = (ns: string, command: string, args: string[], name: string): Program => {
  const line = insideNetns(ns, command, args);
  return peers.watch(new Program(line.command, { name, args: line.args }));
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pinhole-doctor-'));
  peers.defer(() => rm(dir, { recursive: true, force: true }));
  for (const ns of [CLIENT, NET]) {
    await ip(['netns', 'add', ns]);
    peers.defer(() => runCommand('ip', { args: ['netns', 'del', ns] }));
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await ip(['-n', CLIENT, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'net0', 'netns', NET]);
  await ip(['-n', CLIENT, 'addr', 'add', '10.214.0.2/24', 'dev', 'eth0']);
  for (const address of ['10.214.0.1/24', '10.214.0.11/24', '10.214.0.12/24']) await ip(['-n', NET, 'addr', 'add', address, 'dev', 'net0']);
  await ip(['-n', CLIENT, 'link', 'set', 'eth0', 'up']);
  await ip(['-n', NET, 'link', 'set', 'net0', 'up']);
  // The black hole: the network side does not forward, so SYNs to 10.214.1.13 are dropped without a word.
  await ip(['-n', CLIENT, 'route', 'add', '10.214.1.13/32', 'via', '10.214.0.1']);
  await runCommandOk('ip', { args: ['netns', 'exec', NET, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0'] });

  // The client's DNS: dnsmasq on its loopback, the only resolver `ip netns exec` gives it.
  await mkdir(`/etc/netns/${CLIENT}`, { recursive: true });
  peers.defer(() => rm(`/etc/netns/${CLIENT}`, { recursive: true, force: true }));
  await writeFile(`/etc/netns/${CLIENT}/resolv.conf`, 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n');
  await writeFile(`/etc/netns/${CLIENT}/hosts`, '127.0.0.1 localhost\n');
  const dns = inside(CLIENT, 'dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--listen-address=127.0.0.1', '--bind-interfaces', '--port=53', '--pid-file=', '--log-facility=-', '--log-queries',
    '--local=/doctor.test/',
    `--address=/${NAME}/10.214.0.1`,
    '--address=/inspect.doctor.test/10.214.0.11',
    '--address=/closed.doctor.test/10.214.0.12',
    '--address=/drop.doctor.test/10.214.1.13',
  ], 'dnsmasq');
  peers.defer(() => dns.stop('SIGTERM', 5_000));
  await dns.waitForLine((l) => /started, version/.test(l.text), 15_000, 'dnsmasq started');

  // The origin and the gateway, on the network side.
  await writeFile(join(dir, 'hello.txt'), 'hello through the tunnel\n');
  originPort = await freePort();
  const origin = inside(NET, 'python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(originPort)], 'origin');
  peers.defer(() => origin.stop('SIGTERM', 5_000));
  await origin.waitForLine((l) => /Serving HTTP/.test(l.text), 15_000, 'the origin serving');
  const gatewayDir = join(dir, 'gateway');
  await gatewayCommand(['init', '--dir', gatewayDir, '--hostname', NAME]);
  await gatewayCommand(['user', 'add', DEFAULT_USER.name, '--dir', gatewayDir, '--password-stdin'], `${DEFAULT_USER.password}\n`);
  const gateway = inside(NET, gatewayBin, ['run', '--dir', gatewayDir, '--listen', '10.214.0.1:443', '--restrict-to', `127.0.0.1:${originPort}`], 'pinhole-gateway');
  peers.defer(() => gateway.stop('SIGTERM', 10_000));
  await gateway.waitForLog((r) => r.msg === 'The gateway is listening.', 30_000, '"The gateway is listening."');
  link = (await gatewayCommand(['provision', '--dir', gatewayDir, '--user', DEFAULT_USER.name, '--endpoint', `${NAME}:443`, '--password-stdin'], `${DEFAULT_USER.password}\n`)).stdout.trim();

  await startInspectingTls(peers, { netns: NET, address: '10.214.0.11', serverName: NAME });

  // A corporate proxy that refuses every CONNECT: Squid, on the network side.
  const squidDir = await proxyOwnedDir('pinhole-doctor-squid-');
  peers.defer(() => rm(squidDir, { recursive: true, force: true }));
  await writeFile(
    join(squidDir, 'squid.conf'),
    [
      'http_port 10.214.0.1:3128',
      'visible_hostname corp-proxy',
      `pid_filename ${join(squidDir, 'squid.pid')}`,
      `cache_log ${join(squidDir, 'cache.log')}`,
      `access_log stdio:${join(squidDir, 'access.log')}`,
      'cache_effective_user proxy',
      'cache deny all',
      'cache_mem 8 MB',
      'pinger_enable off',
      'shutdown_lifetime 0 seconds',
      'dns_nameservers 127.0.0.1',
      'http_access deny all',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const squid = inside(NET, 'squid', ['-N', '-d', '1', '-f', join(squidDir, 'squid.conf'), '-n', `pinholedoctor${run}`], 'squid');
  peers.defer(() => squid.stop('SIGTERM', 5_000));
  await squid.waitForLine((l) => /Accepting HTTP Socket connections/.test(l.text), 30_000, 'Squid accepting');
});
after(() => peers.close());

/** The provisioned link with some of its fields changed (the same gateway, another address or password). */
const variant = (change: { endpoint?: string; secret?: string }): string => {
  const payload = decodeLink(link);
  return encodeLink({ ...payload, ...(change.endpoint ? { endpoints: [change.endpoint] } : {}), ...(change.secret ? { secret: change.secret } : {}) });
};

/** `pinhole doctor --link-file FILE --json ...` inside the client; the report and the exit code. */
const doctor = async (linkText: string, extra: string[] = []): Promise<{ code: number | null; report: DoctorReport; text: string }> => {
  const file = join(dir, `link-${randomBytes(3).toString('hex')}`);
  await writeFile(file, `${linkText}\n`, { mode: 0o600 });
  const env = { ...process.env, PINHOLE_CONFIG_DIR: join(dir, 'config') };
  const args = ['doctor', '--link-file', file, '--destination', `127.0.0.1:${originPort}`, '--timeout', '4', ...extra];
  const json = await runCommand('ip', { name: 'pinhole-doctor', args: ['netns', 'exec', CLIENT, pinholeBin, ...args, '--json'], env, timeoutMs: 90_000 });
  const text = await runCommand('ip', { name: 'pinhole-doctor', args: ['netns', 'exec', CLIENT, pinholeBin, ...args], env, timeoutMs: 90_000 });
  assert.equal(text.code, json.code, 'the same exit code with and without --json');
  return { code: json.code, report: JSON.parse(json.stdout) as DoctorReport, text: text.stdout };
};

const stoppedAt = (report: DoctorReport): string | undefined => report.hops.find((h) => h.status === 'fail')?.hop;
const hop = (report: DoctorReport, id: string): DoctorReport['hops'][number] => {
  const found = report.hops.find((h) => h.hop === id);
  assert.ok(found, `hop ${id}`);
  return found;
};

test('the healthy path: every hop passes, exit 0, and the last line names the gateway, its port and its address', () =>
  explainFailure(peers, async () => {
    const { code, report, text } = await doctor(link);
    assert.equal(code, 0, text);
    assert.equal(report.ok, true);
    assert.deepEqual(report.hops.map((h) => [h.hop, h.status]), [['resolve', 'pass'], ['tcp', 'pass'], ['tls', 'pass'], ['credential', 'pass'], ['destination', 'pass'], ['system-proxy', 'skip']]);
    assert.match(hop(report, 'resolve').verdict, /gw\.doctor\.test resolves to 10\.214\.0\.1/);
    assert.match(hop(report, 'tls').verdict, /matches the pin/);
    assert.match(hop(report, 'destination').verdict, new RegExp(`opened a tunnel to 127\\.0\\.0\\.1:${originPort}`));
    assert.deepEqual(report.firewall, [{ host: NAME, port: 443, addresses: ['10.214.0.1'] }]);
    assert.equal(text.trim().split('\n').at(-1), 'For the firewall admin: allow outgoing TCP to gw.doctor.test port 443 (its current addresses: 10.214.0.1), and nothing else.');
  }));

test('a name that does not exist (dnsmasq answers NXDOMAIN): the name hop fails and nothing else is tried', () =>
  explainFailure(peers, async () => {
    const { code, report, text } = await doctor(variant({ endpoint: 'gone.doctor.test:443' }));
    assert.equal(code, 1, text);
    assert.equal(stoppedAt(report), 'resolve');
    assert.match(hop(report, 'resolve').verdict, /gone\.doctor\.test does not exist in DNS/);
    assert.ok(report.hops.slice(1).every((h) => h.status === 'skip'));
    assert.match(text, /\[FAIL\] The gateway name resolves/);
  }));

test('nothing listens on port 443 at the address: the TCP hop fails, saying the connection was refused', () =>
  explainFailure(peers, async () => {
    const { code, report } = await doctor(variant({ endpoint: 'closed.doctor.test:443' }));
    assert.equal(code, 1);
    assert.equal(stoppedAt(report), 'tcp');
    assert.match(hop(report, 'tcp').verdict, /10\.214\.0\.12|closed\.doctor\.test:443/);
    assert.match(hop(report, 'tcp').verdict, /refused/);
  }));

test('port 443 dropped in a black hole: the TCP hop fails, saying nothing answered and a firewall probably drops it', () =>
  explainFailure(peers, async () => {
    const { code, report } = await doctor(variant({ endpoint: 'drop.doctor.test:443' }));
    assert.equal(code, 1);
    assert.equal(stoppedAt(report), 'tcp');
    assert.equal(hop(report, 'tcp').code, 'PINHOLE_GATEWAY_TIMEOUT');
    assert.match(hop(report, 'tcp').verdict, /Nothing answered on port 443 .* a firewall is probably dropping/);
  }));

test('a TLS-inspecting firewall on the gateway address: the TLS hop fails naming its issuer, and no credential is sent', () =>
  explainFailure(peers, async () => {
    const { code, report } = await doctor(variant({ endpoint: 'inspect.doctor.test:443' }));
    assert.equal(code, 1);
    assert.equal(stoppedAt(report), 'tls');
    const tls = hop(report, 'tls');
    assert.equal(tls.code, 'PINHOLE_TLS_PIN_MISMATCH');
    assert.match(tls.verdict, new RegExp(`issued by "${INSPECTION_CA_NAME}, Corp Firewall".*looks like TLS inspection`));
    assert.match(tls.verdict, /stopped before sending any credential/);
    assert.match(tls.action ?? '', /exempt gw\.doctor\.test port 443 from TLS inspection/);
    assert.equal(hop(report, 'credential').status, 'skip');
  }));

test('a wrong credential: the credential hop fails with the gateway\'s code', () =>
  explainFailure(peers, async () => {
    const { code, report } = await doctor(variant({ secret: 'not the password 1' }));
    assert.equal(code, 1);
    assert.equal(stoppedAt(report), 'credential');
    const credential = hop(report, 'credential');
    assert.equal(credential.code, 'PINHOLE_AUTH_REJECTED');
    assert.match(credential.verdict, /refused the credential of alice \(HTTP 407/);
    assert.match(credential.action ?? '', /ask your administrator for a new link/);
  }));

test('a corporate proxy that refuses CONNECT: the TCP hop fails and names the proxy', () =>
  explainFailure(peers, async () => {
    const { code, report } = await doctor(link, ['--upstream-proxy', '10.214.0.1:3128']);
    assert.equal(code, 1);
    assert.equal(stoppedAt(report), 'tcp');
    const tcp = hop(report, 'tcp');
    assert.equal(tcp.code, 'PINHOLE_UPSTREAM_PROXY_FAILED');
    assert.match(tcp.verdict, /The corporate proxy 10\.214\.0\.1:3128 .* did not open a connection to gw\.doctor\.test:443.*HTTP 403/);
  }));

test('a destination the gateway does not allow: the destination hop fails with PINHOLE_DEST_FORBIDDEN', () =>
  explainFailure(peers, async () => {
    const { code, report } = await doctor(link, ['--destination', '127.0.0.1:1']);
    assert.equal(code, 1);
    assert.equal(stoppedAt(report), 'destination');
    assert.equal(hop(report, 'destination').code, 'PINHOLE_DEST_FORBIDDEN');
  }));
