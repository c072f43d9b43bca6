/**
 * The HTTP agent for forwarded requests: an `http.Agent` whose connections are tunnels, gateway
 * connections or direct sockets instead of its own TCP dials, kept alive per application
 * connection and route, so requests to the same host:port reuse their tunnel while the
 * application's connection lives.
 */
import { Agent, type ClientRequest, type ClientRequestArgs } from 'node:http';
import { Socket as NetSocket, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TunnelTarget } from '../tunnel/transport.js';

/**
 * The HTTP client writes its request head as a latin1 string; an HTTP/2 stream given such a string
 * inside a corked writev has been seen to send corrupted bytes. Heads become Buffers here (once
 * per request head, not per body chunk: bodies are Buffers already).
 */
const withBufferWrites = (stream: Duplex): Duplex => {
  const write = stream.write.bind(stream) as (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
  (stream as { write: unknown }).write = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean =>
    typeof chunk === 'string' ? write(Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'), typeof encoding === 'function' ? encoding : cb) : write(chunk, encoding, cb);
  return stream;
};

/** An http.Agent whose connections come from `connectTo` (a tunnel, a gateway connection, a direct dial). */
export class TunnelAgent extends Agent {
  constructor(private readonly connectTo: (target: TunnelTarget) => Promise<Duplex>) {
    super({ keepAlive: true, maxSockets: 6, maxFreeSockets: 6 });
  }

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    const host = String(options.host ?? '').replace(/^\[|\]$/g, '');
    this.connectTo({ host, port: Number(options.port) }).then(
      (stream) => {
        callback?.(null, stream instanceof NetSocket ? stream : withBufferWrites(stream));
        // Transports hand streams over paused; the HTTP client attaches its reader on the next tick.
        process.nextTick(() => stream.resume());
      },
      (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
    );
    // Node's Agent accepts a connection later through the callback when none is returned.
    return undefined as unknown as Duplex;
  }

  // HTTP/2 streams have no TCP keep-alive or ref/unref; sockets keep Node's own behaviour.
  override keepSocketAlive(socket: Duplex): void {
    if (socket instanceof NetSocket) super.keepSocketAlive(socket);
    // Returning true (not void) tells Node's Agent to keep the socket; the typings say void.
    return true as unknown as void;
  }

  override reuseSocket(socket: Duplex, req: ClientRequest): void {
    if (socket instanceof NetSocket) super.reuseSocket(socket, req);
  }
}

/** One agent per application connection and route; all of them go when the application's connection closes. */
export class ConnectionAgents {
  private readonly agents = new WeakMap<Socket, Map<string, Agent>>();

  for(client: Socket, route: string, connectTo: (target: TunnelTarget) => Promise<Duplex>): Agent {
    let agents = this.agents.get(client);
    if (!agents) {
      const created = new Map<string, Agent>();
      agents = created;
      this.agents.set(client, created);
      client.once('close', () => {
        for (const agent of created.values()) agent.destroy();
      });
    }
    let agent = agents.get(route);
    if (!agent) {
      agent = new TunnelAgent(connectTo);
      agents.set(route, agent);
    }
    return agent;
  }
}
