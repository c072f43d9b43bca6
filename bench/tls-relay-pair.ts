/**
 * The floor for a Node implementation of Pinhole's two halves (issue 12): the smallest Node program
 * that does the same byte work, two processes like the client and the gateway.
 *
 *   node --import tsx bench/tls-relay-pair.ts server TARGET_PORT   # TLS in, plain TCP to 127.0.0.1:TARGET_PORT
 *   node --import tsx bench/tls-relay-pair.ts client SERVER_PORT   # plain TCP in, TLS to 127.0.0.1:SERVER_PORT
 *
 * Each prints `{"msg":"The relay half is listening.","listen":"127.0.0.1:PORT"}` and relays with
 * two `pipe()`s until SIGTERM: no CONNECT, no authentication, no HTTP/2, no policy, one TLS
 * connection per relayed connection (TLS 1.3, Node's defaults, an EC P-256 certificate like the
 * gateway's). What Pinhole costs beyond this is what its own code costs.
 */
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { makeSelfSignedCertificate } from '../test/support/certs.js';

const [mode, portText] = process.argv.slice(2);
const port = Number(portText);
if ((mode !== 'server' && mode !== 'client') || !Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: tls-relay-pair.ts server TARGET_PORT | client SERVER_PORT\n');
  process.exit(2);
}

const sockets = new Set<Socket>();
const pair = (a: Socket, b: Socket): void => {
  for (const s of [a, b]) {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.once('error', () => {
      a.destroy();
      b.destroy();
    });
  }
  a.pipe(b);
  b.pipe(a);
};

let server: Server;
if (mode === 'server') {
  const certificate = await makeSelfSignedCertificate({ keyType: 'ec' });
  server = createTlsServer({ cert: certificate.cert, key: certificate.key }, (tls) => {
    tls.setNoDelay(true);
    pair(tls, netConnect({ host: '127.0.0.1', port, noDelay: true }));
  });
} else {
  server = createNetServer({ noDelay: true }, (plain) => {
    const tls = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
    tls.setNoDelay(true);
    pair(plain, tls);
  });
}
server.listen({ host: '127.0.0.1', port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'The relay half is listening.', listen: `127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
const quit = (): void => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', quit);
process.once('SIGINT', quit);
