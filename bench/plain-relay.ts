/**
 * The baseline for issue 3's sniff cost: a plain TCP relay (two sockets piped, nothing read or
 * matched), in its own process like the gateway:
 *   node --import tsx bench/plain-relay.ts TARGET_PORT
 * prints `{"msg":"The plain relay is listening.","listen":"127.0.0.1:PORT"}` and relays
 * 127.0.0.1:PORT -> 127.0.0.1:TARGET_PORT until SIGTERM.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

const targetPort = Number(process.argv[2]);
if (!Number.isInteger(targetPort) || targetPort <= 0) {
  process.stderr.write('usage: plain-relay.ts TARGET_PORT\n');
  process.exit(2);
}
const sockets = new Set<Socket>();
const track = (socket: Socket): void => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
};
const server = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
  track(client);
  track(upstream);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.once('error', close);
  upstream.once('error', close);
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen({ host: '127.0.0.1', port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'The plain relay is listening.', listen: `127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
const quit = (): void => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', quit);
process.once('SIGINT', quit);
