/**
 * The servers that share port 443 with a gateway in the multiplexer stories (test/e2e/mux-front,
 * mux-gateway): a real sshd, a real OpenVPN server in TCP mode, a TLS server for another name
 * (SNI pass-through), a plain HTTP backend and a web site that records the headers it was sent,
 * all on 127.0.0.1 and port 0, stopped with the given Peers. Plus the two small clients those
 * stories use to look at a port: the certificate a name gets, and a plain HTTP GET.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { makeSelfSignedCertificate, type TestCertificate } from './certs.js';
import { makeOpenvpnCerts, startOpenvpnServer, type OpenvpnCerts, type RunningOpenvpn } from './openvpn.js';
import type { Peers } from './processes.js';
import { startSshd, type RunningSshd } from './sshd.js';

export const OTHER_NAME = 'other.test';

export interface Port443Backends {
  sshd: RunningSshd;
  vpn: RunningOpenvpn;
  vpnCerts: OpenvpnCerts;
  /** A TLS server for OTHER_NAME that says "hello from other.test" and hangs up. */
  other: { cert: TestCertificate; port: number };
  /** Answers every request with "plain http backend\n". */
  plainHttpPort: number;
  /** Answers "the web site answers METHOD URL\n"; `siteSaw` gets each request's headers. */
  sitePort: number;
  siteSaw: IncomingHttpHeaders[];
}

type Listener = { listen(port: number, host: string, cb: () => void): unknown; address(): AddressInfo | string | null; close(): unknown };

/** Listens on 127.0.0.1, port 0; resolves with the port. */
export const listenOnLoopback = async (server: Listener): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

/** An echo server on 127.0.0.1 (every byte sent back), for the test's teardown to close. */
export const startEchoOnLoopback = async (): Promise<{ port: number; close: () => Promise<void> }> => {
  const echo = createNetServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  const port = await listenOnLoopback(echo);
  return { port, close: () => new Promise<void>((resolve) => echo.close(() => resolve())) };
};

export const startPort443Backends = async (peers: Peers): Promise<Port443Backends> => {
  const [sshd, otherCert, vpnCerts] = await Promise.all([startSshd(), makeSelfSignedCertificate({ commonName: OTHER_NAME, altNames: [OTHER_NAME] }), makeOpenvpnCerts()]);
  peers.add(sshd);
  const vpn = peers.add(await startOpenvpnServer(vpnCerts));
  const siteSaw: IncomingHttpHeaders[] = [];
  const otherTls = createTlsServer({ cert: otherCert.cert, key: otherCert.key }, (s) => s.end('hello from other.test\n'));
  const plainHttp = createHttpServer((_req, res) => res.end('plain http backend\n'));
  const site = createHttpServer((req, res) => {
    siteSaw.push(req.headers);
    res.setHeader('content-type', 'text/plain');
    res.end(`the web site answers ${req.method} ${req.url}\n`);
  });
  peers.defer(() => {
    for (const server of [otherTls, plainHttp, site]) server.close();
  });
  const [otherPort, plainHttpPort, sitePort] = await Promise.all([listenOnLoopback(otherTls), listenOnLoopback(plainHttp), listenOnLoopback(site)]);
  return { sshd, vpn, vpnCerts, other: { cert: otherCert, port: otherPort }, plainHttpPort, sitePort, siteSaw };
};

/** The SHA-256 (upper-case hex) of the certificate `servername` gets on 127.0.0.1:port. */
export const fingerprintVia = (port: number, servername: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.destroy();
      resolve(createHash('sha256').update(der).digest('hex').toUpperCase());
    });
    socket.once('error', reject);
  });

/** A plain HTTP GET on 127.0.0.1:port, from `localAddress` when given. */
export const httpGet = (port: number, path: string, localAddress?: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, ...(localAddress ? { localAddress } : {}), agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  });
