/** A minimal SOCKS5 client (no authentication, CONNECT): what `curl --socks5` does, in-process, for stories and the bench. */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { COMMAND, encodeGreeting, encodeRequest, parseReply } from '../../main/socks/codec.js';

/** CONNECT `host:port` through the SOCKS5 proxy on 127.0.0.1:`proxyPort`; resolves with the open stream. */
export const socksConnect = async (proxyPort: number, host: string, port: number): Promise<Socket> => {
  const socket = netConnect({ host: '127.0.0.1', port: proxyPort, noDelay: true });
  socket.once('error', () => socket.destroy());
  await once(socket, 'connect');
  const reply = new Promise<void>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      // Skip the two-byte method selection, then one whole reply.
      const parsed = got.length > 2 ? parseReply(got.subarray(2)) : undefined;
      if (parsed === undefined) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      const rest = got.subarray(2 + parsed.consumed);
      if (rest.length > 0) socket.unshift(rest);
      if (parsed.value.code === 0) resolve();
      else reject(new Error(`SOCKS5 CONNECT ${host}:${port} answered ${parsed.value.code}`));
    };
    const onClose = (): void => reject(new Error(`the SOCKS5 proxy closed the connection after ${got.length} bytes`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
  socket.write(encodeGreeting([0]));
  socket.write(encodeRequest(COMMAND.connect, host, port));
  try {
    await reply;
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return socket;
};
