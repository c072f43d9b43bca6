/**
 * `npm run demo`: the whole story on this machine, with nothing anywhere else. A gateway with a
 * fresh certificate on loopback, a provisioning link, the client engine started from that link,
 * and one page fetched through it from a local HTTPS site, each step told in a sentence.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { packageRoot } from '../node/package-root.js';
import { decodeLink } from '../shared/link.js';
import { GatewayTargetSchema } from '../shared/profile.js';
import { Engine } from './engine.js';
import { DIAL_SOCKET_OPTIONS, LISTENER_OPTIONS } from '../node/socket-options.js';

const run = promisify(execFile);
const root = packageRoot(import.meta.url);
const gatewayBin = join(root, 'bin', 'pinhole-gateway');
const say = (sentence: string): void => void process.stdout.write(`${sentence}\n`);

/** Runs one gateway command, feeding `stdin`, and returns what it printed. */
const gateway = (args: string[], stdin?: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(gatewayBin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`pinhole-gateway ${args[0] ?? ''} failed (exit ${code}): ${err.trim() || out.trim()}`))));
    child.stdin.end(stdin ?? '');
  });

/** Starts `pinhole-gateway run` and resolves with its port once it logs where it listens. */
const startGateway = (dir: string, restrictTo: string): Promise<{ child: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(gatewayBin, ['run', '--dir', dir, '--listen', '127.0.0.1:0', '--restrict-to', restrictTo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('The gateway did not say where it listens within 20 s.')), 20_000);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const match = /"listen":"127\.0\.0\.1:(\d+)"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ child, port: Number(match[1]) });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (buffered += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The gateway stopped (exit ${code}) before listening:\n${buffered}`));
    });
  });

/** GET https://127.0.0.1:PORT/ through the local proxy: CONNECT, then TLS to the site inside the tunnel. */
const fetchThroughProxy = (proxyPort: number, sitePort: number, ca: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const socket = netConnect({ ...DIAL_SOCKET_OPTIONS, host: '127.0.0.1', port: proxyPort });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('No answer through the proxy within 15 s.'));
    }, 15_000);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`CONNECT 127.0.0.1:${sitePort} HTTP/1.1\r\nHost: 127.0.0.1:${sitePort}\r\n\r\n`));
    socket.once('data', (head: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.toString())?.[1]);
      if (status !== 200) {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`The local proxy answered CONNECT with: ${head.toString().split('\r\n\r\n').join('\n')}`));
        return;
      }
      const secure = tlsConnect({ socket, ca, servername: 'localhost' });
      let text = '';
      secure.once('secureConnect', () => secure.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${sitePort}\r\nConnection: close\r\n\r\n`));
      secure.on('data', (chunk: Buffer) => (text += chunk.toString()));
      secure.once('error', reject);
      secure.once('end', () => {
        clearTimeout(timer);
        const [headText = '', body = ''] = text.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headText)?.[1]), body });
      });
    });
  });

const main = async (): Promise<number> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-demo-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => rm(dir, { recursive: true, force: true })];
  try {
    say('Pinhole demo: everything below runs on this machine, on 127.0.0.1 only.');

    say('1. Making a small HTTPS web site with its own self-signed certificate (it stands in for a cloud service).');
    await run('openssl', ['req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'site.key'), '-out', join(dir, 'site.crt')]);
    const [siteCert, siteKey] = await Promise.all([readFile(join(dir, 'site.crt'), 'utf8'), readFile(join(dir, 'site.key'), 'utf8')]);
    const site = createHttpsServer({ ...LISTENER_OPTIONS, cert: siteCert, key: siteKey }, (_req, res) => {
      const page = 'Hello from the site behind the gateway.\n';
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(page) });
      res.end(page);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => site.close(resolve)));
    const sitePort = (site.address() as AddressInfo).port;
    say(`   The site answers at https://127.0.0.1:${sitePort}/.`);

    const gwDir = join(dir, 'gateway');
    say('2. Setting up a gateway named gw.example.test: a fresh certificate, a config and a users file.');
    const fingerprint = (await gateway(['init', '--dir', gwDir, '--hostname', 'gw.example.test'])).trim().split('\n').pop() ?? '';
    say(`   The gateway's certificate fingerprint is ${fingerprint}.`);

    const password = `demo-${Math.random().toString(36).slice(2, 12)}`;
    say('3. Adding the user alice with a random password (stored hashed, as htpasswd does).');
    await gateway(['user', 'add', 'alice', '--dir', gwDir, '--password-stdin'], `${password}\n`);

    say(`4. Starting the gateway on a free loopback port, allowed to reach only 127.0.0.1:${sitePort}.`);
    const gw = await startGateway(gwDir, `127.0.0.1:${sitePort}`);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          if (gw.child.exitCode !== null) return resolve();
          gw.child.once('exit', () => resolve());
          gw.child.kill('SIGTERM');
          setTimeout(() => gw.child.kill('SIGKILL'), 5_000).unref();
        }),
    );
    say(`   The gateway listens on 127.0.0.1:${gw.port}.`);

    say('5. Provisioning a link for alice: it carries the endpoint, the TLS name, the certificate pin, the user and the secret.');
    const link = (await gateway(['provision', '--dir', gwDir, '--user', 'alice', '--endpoint', `127.0.0.1:${gw.port}`, '--password-stdin'], `${password}\n`)).trim().split('\n').pop() ?? '';
    say(`   The link starts ${link.slice(0, 24)}... (${link.length} characters; it holds a secret, so it is not printed whole).`);

    say('6. Starting the Pinhole client from the link: a local proxy on 127.0.0.1 whose tunnels go through the gateway.');
    const payload = decodeLink(link);
    const target = GatewayTargetSchema.parse({
      endpoints: payload.endpoints,
      serverName: payload.serverName,
      trust: payload.pin ? { kind: 'pin', pin: payload.pin } : { kind: 'system' },
      user: payload.user ?? '',
      transport: payload.transport,
      domains: payload.domains ?? [],
    });
    const engine = new Engine({ logLevel: 'warn', logDestination: { write: () => undefined } });
    cleanups.push(() => engine.disconnect());
    const { listen } = await engine.connect(target, payload.secret ?? '', { listen: '127.0.0.1:0', profileName: 'demo' });
    const status = engine.getStatus();
    say(`   Connected over ${status.transport === 'h2' ? 'HTTP/2 (all tunnels share one TLS connection)' : 'HTTP/1.1'}; the local proxy is ${listen}.`);

    say(`7. Fetching https://127.0.0.1:${sitePort}/ through the local proxy, the way a browser would (CONNECT, then TLS to the site).`);
    const proxyPort = Number(listen.split(':').pop());
    const page = await fetchThroughProxy(proxyPort, sitePort, siteCert);
    say(`   The site answered ${page.status}: "${page.body.trim()}"`);
    const stats = engine.getStats();
    say(`   The client carried ${stats.totalTunnels} tunnel(s) over ${stats.gatewayConnections} TLS connection(s) to the gateway${stats.rttMs === null ? '' : `, round trip ${stats.rttMs} ms`}.`);
    say('   On the wire between client and gateway, a firewall sees TLS to gw.example.test and nothing else: no site name, no user, no password.');

    say('8. Stopping the client, the gateway and the site.');
    if (page.status !== 200) throw new Error(`The page came back with status ${page.status}.`);
    say('Done: the demo worked.');
    return 0;
  } catch (err) {
    say(`The demo failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
};

main().then((code) => {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1_000).unref();
});
