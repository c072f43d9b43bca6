import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeLink } from '../../shared/link.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'pinhole-gateway');
const run = promisify(execFile);

function gateway(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(BIN, args, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    child.stdin?.end(stdin ?? '');
  });
}

test('init writes config, users file and a certificate whose fingerprint openssl agrees with; user add and provision make a working link', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'pinhole-cli-')), 'gw');
  t.after(() => rm(dirname(dir), { recursive: true, force: true }));
  const made = await gateway(['init', '--dir', dir, '--hostname', 'gw.example.test']);
  assert.equal(made.code, 0, made.stderr);
  const { stdout: openssl } = await run('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-noout', '-fingerprint', '-sha256', '-ext', 'subjectAltName']);
  assert.equal(made.stdout.trim(), /Fingerprint=([0-9A-F:]+)/.exec(openssl)?.[1]);
  assert.match(openssl, /DNS:gw\.example\.test/);
  assert.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'users.htpasswd'))).mode & 0o777, 0o600);
  const again = await gateway(['init', '--dir', dir, '--hostname', 'gw.example.test']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists/);

  const added = await gateway(['user', 'add', 'alice', '--dir', dir, '--password-stdin'], 'qY8kd0Cf\n');
  assert.equal(added.code, 0, added.stderr);
  assert.match(await readFile(join(dir, 'users.htpasswd'), 'utf8'), /^alice:\$2y\$10\$/);
  const { stderr: verified } = await run('htpasswd', ['-vb', join(dir, 'users.htpasswd'), 'alice', 'qY8kd0Cf']);
  assert.match(verified, /correct/);

  const link = await gateway(['provision', '--dir', dir, '--user', 'alice', '--endpoint', '127.0.0.1:8443', '--password-stdin'], 'qY8kd0Cf\n');
  assert.equal(link.code, 0, link.stderr);
  assert.equal(link.stdout.trim().split('\n').length, 1);
  const payload = decodeLink(link.stdout.trim());
  assert.deepEqual(payload.endpoints, ['127.0.0.1:8443']);
  assert.equal(payload.serverName, 'gw.example.test');
  assert.equal(payload.pin, made.stdout.trim().replace(/:/g, ''));
  assert.equal(payload.user, 'alice');
  assert.equal(payload.secret, 'qY8kd0Cf');

  const wrong = await gateway(['provision', '--dir', dir, '--user', 'alice', '--password-stdin'], 'nope\n');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /does not match/);

  const fresh = await gateway(['provision', '--dir', dir, '--user', 'bob', '--create-user']);
  assert.equal(fresh.code, 0, fresh.stderr);
  const bob = decodeLink(fresh.stdout.trim());
  assert.deepEqual(bob.endpoints, ['gw.example.test:443']);
  assert.ok(bob.secret !== undefined && bob.secret.length >= 20);
  const { stderr: bobOk } = await run('htpasswd', ['-vb', join(dir, 'users.htpasswd'), 'bob', bob.secret]);
  assert.match(bobOk, /correct/);
});

test('bad flags and missing config give one line and exit 2', async () => {
  for (const args of [['run', '--dir', '/nonexistent/pinhole'], ['run', '--bogus'], ['frobnicate'], ['init', '--dir', '/tmp/x', '--hostname', 'bad name!']]) {
    const r = await gateway(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('run logs where it listens and SIGTERM drains an open tunnel, then exits 0', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'pinhole-cli-')), 'gw');
  t.after(() => rm(dirname(dir), { recursive: true, force: true }));
  await gateway(['init', '--dir', dir, '--hostname', 'gw.example.test']);
  await gateway(['user', 'add', 'alice', '--dir', dir, '--password-stdin'], 'Tr0ub4dor-secret\n');
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const echoPort = (echo.address() as AddressInfo).port;
  const child = spawn(BIN, ['run', '--dir', dir, '--listen', '127.0.0.1:0', '--restrict-to', `127.0.0.1:${echoPort}`, '--drain-seconds', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.exitCode === null && child.kill('SIGKILL'));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"msg":"The gateway is listening\."/.test(out) ? /"listen":"127\.0\.0\.1:(\d+)"/.exec(out) : null;
      if (m?.[1] !== undefined) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`gateway exited: ${out}`)));
  });
  const tunnel = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  tunnel.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nProxy-Authorization: Basic ${Buffer.from('alice:Tr0ub4dor-secret').toString('base64')}\r\n\r\n`);
  let received = '';
  tunnel.on('data', (d: Buffer) => (received += d.toString()));
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if (received.includes('200')) {
        clearInterval(check);
        r();
      }
    }, 20);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  // The drain has begun when the gateway says so: only then does the tunnel's survival mean anything.
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if (out.includes('"msg":"The gateway is stopping: no new connections, open tunnels drain."')) {
        clearInterval(check);
        r();
      }
    }, 20);
  });
  tunnel.write('still here');
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if (received.includes('still here')) {
        clearInterval(check);
        r();
      }
    }, 20);
  });
  tunnel.end();
  assert.equal(await exited, 0);
  assert.match(out, /"msg":"A tunnel closed\."/);
  assert.match(out, /"msg":"The gateway stopped\."/);
  assert.doesNotMatch(out, /Tr0ub4dor/);
});
