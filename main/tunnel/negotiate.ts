/**
 * Picks the transport for a profile: 'h2' offers ALPN h2 + http/1.1 and falls back to HTTP/1.1
 * tunnels when the server answers http/1.1 or nothing (stunnel + Squid); 'h1' forces HTTP/1.1;
 * 'wss' carries each tunnel in a WebSocket (wss-transport.ts). The first connection doubles as the
 * pre-warmed one.
 */
import type { Transport as TransportKind } from '../../shared/profile.js';
import { dialGateway, raceGateway, TlsSessionCache } from './dial.js';
import { H1Transport } from './h1-transport.js';
import { H2Transport } from './h2-transport.js';
import { WssTransport } from './wss-transport.js';
import type { GatewayDialOptions, Transport } from './transport.js';

export const openTransport = async (kind: TransportKind, options: GatewayDialOptions & { wsPath?: string }): Promise<Transport> => {
  const sessions = new TlsSessionCache();
  if (kind === 'wss') {
    const transport: Transport = new WssTransport({ ...options, sessions });
    await transport.warm();
    return transport;
  }
  if (kind === 'h1') {
    const socket = await dialGateway(options, ['http/1.1'], sessions);
    const transport = new H1Transport({ ...options, sessions, initialSocket: socket });
    return transport;
  }
  const { connection: socket, endpoint } = await raceGateway(options.endpoints, options, ['h2', 'http/1.1'], sessions);
  if (socket.alpnProtocol === 'h2') return new H2Transport({ ...options, sessions, initialSocket: socket, initialEndpoint: endpoint });
  options.logger.info({ alpn: socket.alpnProtocol || 'none' }, 'The gateway does not speak HTTP/2; using one HTTP/1.1 tunnel per connection.');
  return new H1Transport({ ...options, sessions, initialSocket: socket });
};
