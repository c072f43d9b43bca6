/**
 * Per-app attribution on Linux with real client processes: curl and node connect to a TCP server
 * standing in for the local proxy, and /proc tells which executable owns each accepted socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { SeenApps } from '../../main/apps/app-rules.js';
import { LinuxAppLookup } from '../../main/apps/linux.js';
import type { AppIdentity } from '../../main/apps/types.js';
import { blockRefusal, refusalHead } from '../../main/proxy/refusal.js';
import { createRouting } from '../../main/routing.js';
import { killOnExit } from '../support/processes.js';

const CURL = realpathSync('/usr/bin/curl');
const NODE = realpathSync(process.execPath);
/**
 * The product gives a /proc search 2 s and then attributes nothing; a machine under load can take
 * longer than that to walk /proc, and the attribution, not the time limit, is what these tests check.
 */
const lookupForTests = (): LinuxAppLookup => new LinuxAppLookup({ timeLimitMs: 60_000 });

const listen = async <S extends Server | HttpServer>(server: S): Promise<number> => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
};

const run = (file: string, args: string[], children: ChildProcess[]): { child: ChildProcess; output: Promise<{ code: number | null; stdout: string; stderr: string }> } => {
  const child = killOnExit(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const output = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, output };
};

const cleanup = (children: ChildProcess[], servers: (Server | HttpServer)[]) => async (): Promise<void> => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const server of servers) {
    (server as HttpServer).closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
};

test('each connection to the local proxy is attributed to the executable that opened it (curl, node)', { skip: process.platform !== 'linux' ? 'Linux /proc lookup' : false }, async (t) => {
  const children: ChildProcess[] = [];
  const server = createServer();
  t.after(cleanup(children, [server]));
  const lookup = lookupForTests();
  const attributed: Promise<{ app: AppIdentity | undefined; firstLine: string }>[] = [];
  server.on('connection', (socket: Socket) => {
    attributed.push(
      (async () => {
        const app = await lookup.forSocket(socket);
        const [chunk] = (await once(socket, 'data')) as [Buffer];
        socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
        return { app, firstLine: chunk.toString('latin1').split('\r\n')[0] ?? '' };
      })(),
    );
  });
  const port = await listen(server);

  const curl = run(CURL, ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/from-curl`], children);
  assert.equal((await curl.output).stdout, '204');
  const nodeScript = `const s=require('net').connect(${port},'127.0.0.1',()=>s.write('GET /from-node HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));s.on('data',()=>s.end());`;
  const nodeClient = run(process.execPath, ['-e', nodeScript], children);
  assert.equal((await nodeClient.output).code, 0);

  const results = await Promise.all(attributed);
  const byLine = new Map(results.map((r) => [r.firstLine, r.app]));
  const curlApp = byLine.get('GET /from-curl HTTP/1.1');
  const nodeApp = byLine.get('GET /from-node HTTP/1.1');
  assert.equal(curlApp?.path, CURL);
  assert.equal(curlApp?.name, 'curl');
  assert.equal(curlApp?.pid, curl.child.pid);
  assert.equal(nodeApp?.path, NODE);
  assert.equal(nodeApp?.pid, nodeClient.child.pid);
});

test('a blocked app gets a clear 403 refusal while other apps pass', { skip: process.platform !== 'linux' ? 'Linux /proc lookup' : false }, async (t) => {
  const children: ChildProcess[] = [];
  const lookup = lookupForTests();
  const routing = createRouting({ appRules: { appRules: { [CURL]: 'block' }, defaultAppAction: 'tunnel' } });
  const seen = new SeenApps();
  // What the local proxy does with these APIs: identify, record, decide, refuse.
  const server = createHttpServer((req, res) => {
    void (async () => {
      const app = await lookup.forSocket(req.socket);
      if (app) seen.record(app);
      const decision = routing.decide({ host: '127.0.0.1', port: 80, ...(app ? { app } : {}) });
      if (decision.route === 'block') {
        req.socket.end(refusalHead(blockRefusal(decision, '127.0.0.1:80')));
        return;
      }
      res.end('passed\n');
    })();
  });
  t.after(cleanup(children, [server]));
  const port = await listen(server);

  const curl = run(CURL, ['-s', '-i', `http://127.0.0.1:${port}/`], children);
  const curlOut = await curl.output;
  assert.match(curlOut.stdout, /^HTTP\/1\.1 403 Forbidden/);
  assert.match(curlOut.stdout, /Pinhole-Error: PINHOLE_APP_BLOCKED/i);
  assert.match(curlOut.stdout, /This application is blocked by a Pinhole rule\. \(curl -> 127\.0\.0\.1:80\)/);

  const nodeScript = `require('http').get('http://127.0.0.1:${port}/',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{process.stdout.write(r.statusCode+' '+b)})});`;
  const nodeOut = await run(process.execPath, ['-e', nodeScript], children).output;
  assert.equal(nodeOut.stdout, '200 passed\n');

  const apps = seen.list();
  assert.deepEqual(apps.map((a) => a.path).sort(), [CURL, NODE].sort());
});
