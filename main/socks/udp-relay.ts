/**
 * SOCKS5 UDP ASSOCIATE (RFC 1928 section 7): a UDP socket on the address the client reached us
 * on, accepting datagrams only from the client's IP (and its declared port, when it gave one),
 * each with the SOCKS UDP header naming its destination; one tunnel flow per destination, all
 * closed when the TCP control connection ends. Fragments are not supported and are dropped.
 */
import { createSocket } from 'node:dgram';
import { isIPv6, type Socket } from 'node:net';
import type { Logger } from '../../shared/log.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import { formatEndpoint } from '../../shared/profile.js';
import { logUdpFlowRefused } from '../udp/flow-refusal.js';
import type { OpenUdpFlow } from '../udp/local-udp.js';
import { REPLY, encodeReply, encodeUdpDatagram, parseUdpDatagram } from './codec.js';
import type { SocksCommand } from './handshake.js';

const MAX_DESTINATIONS = 64;
const MAX_PENDING = 16;
const plain = (address: string): string => address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

export async function runUdpAssociation(control: Socket, command: Extract<SocksCommand, { kind: 'udp-associate' }>, openUdpFlow: OpenUdpFlow, logger: Logger): Promise<void> {
  const local = control.localAddress ?? '127.0.0.1';
  const relay = createSocket({ type: isIPv6(plain(local)) ? 'udp6' : 'udp4' });
  const client = plain(control.remoteAddress ?? '');
  let clientPort = command.port === 0 ? undefined : command.port;
  const flows = new Map<string, { channel?: DatagramChannel; pending: Uint8Array[] }>();
  try {
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      relay.bind(0, plain(local), () => resolve());
    });
  } catch (err) {
    logger.warn({ err }, 'The SOCKS5 UDP relay socket could not be opened.');
    if (control.writable) control.end(encodeReply(REPLY.generalFailure));
    return;
  }
  relay.on('error', () => undefined);
  control.write(encodeReply(REPLY.succeeded, { host: plain(local), port: relay.address().port }));

  relay.on('message', (message, rinfo) => {
    if (plain(rinfo.address) !== client) return;
    clientPort ??= rinfo.port;
    if (rinfo.port !== clientPort) return;
    let datagram;
    try {
      datagram = parseUdpDatagram(message);
    } catch {
      return;
    }
    if (datagram.fragment !== 0) return;
    const { host, port } = datagram.address;
    const key = `${host}|${port}`;
    let flow = flows.get(key);
    if (flow === undefined) {
      if (flows.size >= MAX_DESTINATIONS) return;
      const created: { channel?: DatagramChannel; pending: Uint8Array[] } = { pending: [] };
      flow = created;
      flows.set(key, created);
      openUdpFlow(host, port).then(
        (channel) => {
          if (flows.get(key) !== created) return channel.close();
          created.channel = channel;
          channel.onDatagram((payload) => relay.send(encodeUdpDatagram(host, port, payload), clientPort!, client));
          channel.onClose(() => flows.delete(key));
          for (const p of created.pending) channel.send(p);
          created.pending = [];
        },
        (err: unknown) => {
          if (flows.get(key) === created) flows.delete(key);
          logUdpFlowRefused(logger, formatEndpoint({ host: client, port: clientPort ?? 0 }), { host, port }, err);
        },
      );
    }
    // Copy: the payload is a view into a buffer dgram may reuse.
    if (flow.channel) flow.channel.send(datagram.payload);
    else if (flow.pending.length < MAX_PENDING) flow.pending.push(Uint8Array.from(datagram.payload));
  });

  await new Promise<void>((resolve) => {
    control.resume();
    control.on('data', () => undefined); // RFC 1928: the association lives as long as the TCP connection
    control.once('close', () => resolve());
  });
  for (const flow of flows.values()) flow.channel?.close();
  relay.close();
}
