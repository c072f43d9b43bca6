/**
 * LAN box mode in network namespaces (issue 14): the seed's customer-side topology, one Pinhole
 * box for a LAN. Three namespaces made by this test (names unique per run, deleted at the end even
 * on failure): the box, whose loopback holds the gateway and an origin, and two terminals, each on
 * its own veth pair to the box on 10.213.0.0/24, a subnet that exists only inside them. The box
 * runs `pinhole connect --listen 0.0.0.0:PORT --allow-from 10.213.0.0/30`: terminal A
 * (10.213.0.2) gets its page through the box and the gateway, terminal B (10.213.0.6) is closed
 * before anything is read (the gateway sees nothing; the box logs the source once). With
 * `--local-users`, a terminal without credentials gets 407 and one with them gets through.
 * Needs root (ip netns); every address is inside the namespaces.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../node/htpasswd.js';
import { DEFAULT_USER, gatewayCommand, isAccessRecord } from '../support/gateway.js';
import { Peers, Program, explainFailure, freePort, gatewayBin, listenPortOf, pinholeBin, runCommand, runCommandOk } from '../support/processes.js';

const run = randomBytes(3).toString('hex');
const BOX = `phbox-${run}`;
const TERMINAL_A = `pha-${run}`;
const TERMINAL_B = `phb-${run}`;
const peers = new Peers();
let dir: string;
let gateway: Program;
let originPort: number;
let box: { program: Program; port: number };
let guarded: { program: Program; port: number };
const TERMINAL_USER = { name: 'terminal7', password: 'a password for the LAN 9' };

const ip = (args: string[]): ReturnType<typeof runCommandOk> => runCommandOk('ip', { name: 'ip', args });
const inside = (ns: string, command: string, args: string[], name: string): Program => new Program('ip', { name, args: ['netns', 'exec', ns, command, ...args] });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pinhole-lan-'));
  peers.defer(() => rm(dir, { recursive: true, force: true }));
  for (const ns of [BOX, TERMINAL_A, TERMINAL_B]) {
    await ip(['netns', 'add', ns]);
    peers.defer(() => runCommand('ip', { args: ['netns', 'del', ns] }));
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  // Each terminal on its own veth pair to the box; the box end is made straight inside the box.
  for (const [ns, lan, boxAddress, terminalAddress] of [
    [TERMINAL_A, 'lanA', '10.213.0.1/30', '10.213.0.2/30'],
    [TERMINAL_B, 'lanB', '10.213.0.5/30', '10.213.0.6/30'],
  ] as const) {
    await ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', lan, 'netns', BOX]);
    await ip(['-n', BOX, 'addr', 'add', boxAddress, 'dev', lan]);
    await ip(['-n', ns, 'addr', 'add', terminalAddress, 'dev', 'eth0']);
    await ip(['-n', BOX, 'link', 'set', lan, 'up']);
    await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
  }
  // The origin: a real HTTP server on the box's loopback.
  await writeFile(join(dir, 'hello.txt'), 'hello from the LAN box origin\n');
  originPort = await freePort();
  const origin = peers.watch(inside(BOX, 'python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(originPort)], 'origin'));
  peers.defer(() => origin.stop('SIGTERM', 5_000));
  await origin.waitForLine((l) => /Serving HTTP/.test(l.text), 15_000, 'the origin serving');
  // The gateway: made with the CLI, run on the box's loopback, allowed to reach the origin only.
  const gatewayDir = join(dir, 'gateway');
  await gatewayCommand(['init', '--dir', gatewayDir, '--hostname', 'gw.lan.test']);
  await gatewayCommand(['user', 'add', DEFAULT_USER.name, '--dir', gatewayDir, '--password-stdin'], `${DEFAULT_USER.password}\n`);
  gateway = peers.watch(inside(BOX, gatewayBin, ['run', '--dir', gatewayDir, '--listen', '127.0.0.1:0', '--restrict-to', `127.0.0.1:${originPort}`], 'pinhole-gateway'));
  peers.defer(() => gateway.stop('SIGTERM', 10_000));
  const gatewayPort = listenPortOf(await gateway.waitForLog((r) => r.msg === 'The gateway is listening.', 20_000, '"The gateway is listening."'));
  const provisioned = await gatewayCommand(['provision', '--dir', gatewayDir, '--user', DEFAULT_USER.name, '--endpoint', `127.0.0.1:${gatewayPort}`, '--password-stdin'], `${DEFAULT_USER.password}\n`);
  const link = provisioned.stdout.trim();
  // The box: shared with 10.213.0.0/30 (terminal A's link) only.
  box = await startBox(link, ['--listen', '0.0.0.0:0', '--allow-from', '10.213.0.0/30'], 'pinhole-box');
  const usersFile = join(dir, 'terminals.htpasswd');
  await writeFile(usersFile, `${TERMINAL_USER.name}:${await hashPassword(TERMINAL_USER.password, 4)}\n`);
  guarded = await startBox(link, ['--listen', '0.0.0.0:0', '--allow-from', '10.213.0.0/30', '--local-users', usersFile], 'pinhole-box-users');
});
after(() => peers.close());

async function startBox(link: string, args: string[], name: string): Promise<{ program: Program; port: number }> {
  const program = peers.watch(inside(BOX, pinholeBin, ['connect', link, '--log-format', 'json', ...args], name));
  peers.defer(() => program.stop('SIGTERM', 10_000));
  const record = await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 30_000, '"The local proxy is listening."');
  return { program, port: listenPortOf(record) };
}

const curlFrom = (ns: string, proxy: string, extra: string[] = []): ReturnType<typeof runCommand> =>
  runCommand('ip', { name: `curl-${ns}`, args: ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '15', '-o', '-', '-w', '\n%{http_code}', '-x', proxy, ...extra, `http://127.0.0.1:${originPort}/hello.txt`], timeoutMs: 30_000 });

const originTargets = (): number => gateway.records.filter(isAccessRecord).filter((r) => r['target'] === `127.0.0.1:${originPort}`).length;

test('a terminal inside --allow-from gets its page through the box and the gateway', () =>
  explainFailure(peers, async () => {
    const result = await curlFrom(TERMINAL_A, `http://10.213.0.1:${box.port}`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.split('\n').filter((l) => l !== ''), ['hello from the LAN box origin', '200']);
    await gateway.waitForLog((r) => isAccessRecord(r) && r['target'] === `127.0.0.1:${originPort}` && r['status'] === 200, 10_000, 'the request in the gateway access log');
  }));

test('a terminal outside --allow-from is closed before anything is read, and the box logs its address once', () =>
  explainFailure(peers, async () => {
    const before = originTargets();
    const first = await curlFrom(TERMINAL_B, `http://10.213.0.5:${box.port}`);
    const second = await curlFrom(TERMINAL_B, `http://10.213.0.5:${box.port}`);
    for (const result of [first, second]) {
      assert.notEqual(result.code, 0, 'curl fails');
      assert.doesNotMatch(result.stdout, /hello from/);
    }
    const refused = await box.program.waitForLog((r) => r['code'] === 'PINHOLE_LAN_SOURCE_REFUSED', 10_000, 'the refusal in the box log');
    assert.equal(refused['source'], '10.213.0.6');
    assert.equal(box.program.records.filter((r) => r['code'] === 'PINHOLE_LAN_SOURCE_REFUSED').length, 1, 'logged once per source');
    assert.equal(originTargets(), before, 'nothing reached the gateway');
  }));

test('with --local-users, a terminal without credentials gets 407 and one with them gets through', () =>
  explainFailure(peers, async () => {
    const without = await curlFrom(TERMINAL_A, `http://10.213.0.1:${guarded.port}`);
    assert.equal(without.stdout.trim().split('\n').at(-1), '407');
    const wrong = await curlFrom(TERMINAL_A, `http://10.213.0.1:${guarded.port}`, ['-U', `${TERMINAL_USER.name}:not the password`]);
    assert.equal(wrong.stdout.trim().split('\n').at(-1), '407');
    const signed = await curlFrom(TERMINAL_A, `http://10.213.0.1:${guarded.port}`, ['-U', `${TERMINAL_USER.name}:${TERMINAL_USER.password}`]);
    assert.deepEqual(signed.stdout.split('\n').filter((l) => l !== ''), ['hello from the LAN box origin', '200'], signed.stderr);
    await guarded.program.waitForLog((r) => r['code'] === 'PINHOLE_LOCAL_AUTH_MISSING' && r['source'] === '10.213.0.2', 10_000, 'the missing credentials in the box log');
  }));
