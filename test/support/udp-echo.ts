/** A UDP echo server on 127.0.0.1 and port 0 for UDP tests: answers each datagram to its sender, optionally prefixed, and records what it saw. */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';

export interface UdpEcho {
  port: number;
  socket: UdpSocket;
  /** Every datagram received, as text. */
  seen: string[];
  close: () => void;
}

export async function startUdpEcho(prefix = ''): Promise<UdpEcho> {
  const socket = createSocket('udp4');
  const seen: string[] = [];
  const head = Buffer.from(prefix);
  socket.on('message', (m, r) => {
    seen.push(m.toString());
    socket.send(head.length > 0 ? Buffer.concat([head, m]) : m, r.port, r.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { port: socket.address().port, socket, seen, close: () => socket.close() };
}
