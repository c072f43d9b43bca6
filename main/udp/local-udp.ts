/**
 * `pinhole forward -L udp:[BIND:]PORT:HOST:PORT`: a local UDP socket where each source address
 * (ip:port) gets its own flow through the tunnel (like wstunnel's UDP mode), opened on its first
 * datagram through an injected `openUdpFlow`, and closed after `idleTimeoutMs` without traffic in
 * either direction. Datagrams that arrive while a flow opens wait in a small bounded queue;
 * beyond it, and beyond `maxFlows`, they are dropped (counted), as UDP may.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint } from '../../shared/profile.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import { logUdpFlowRefused } from './flow-refusal.js';
import { listenError } from '../../node/listen-error.js';

/** Opens one UDP flow to host:port through the tunnel (a name stays a name). Throws PinholeError. */
export type OpenUdpFlow = (host: string, port: number) => Promise<DatagramChannel>;

export interface LocalUdpForwardOptions {
  readonly bindHost: string;
  readonly bindPort: number;
  readonly target: { readonly host: string; readonly port: number };
  readonly openUdpFlow: OpenUdpFlow;
  /** Close a flow after this long without a datagram either way (default 30 s, wstunnel's --udpTimeoutSec default). */
  readonly idleTimeoutMs?: number;
  /** Flows (source addresses) at most (default 1024). */
  readonly maxFlows?: number;
  /** Datagrams held per flow while it opens (default 64). */
  readonly maxPending?: number;
  readonly logger?: Logger;
}

export interface LocalUdpCounters {
  flowsOpened: number;
  flowsFailed: number;
  datagramsUp: number;
  datagramsDown: number;
  bytesUp: number;
  bytesDown: number;
  dropped: number;
}

interface Flow {
  channel: DatagramChannel | undefined;
  pending: Uint8Array[];
  lastActive: number;
}

export class LocalUdpForward {
  readonly counters: LocalUdpCounters = { flowsOpened: 0, flowsFailed: 0, datagramsUp: 0, datagramsDown: 0, bytesUp: 0, bytesDown: 0, dropped: 0 };
  private readonly flows = new Map<string, Flow>();
  private readonly idleTimeoutMs: number;
  private readonly sweeper: NodeJS.Timeout;

  private constructor(
    private readonly socket: UdpSocket,
    private readonly options: LocalUdpForwardOptions,
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(this.idleTimeoutMs / 4, 5_000)));
    this.sweeper.unref();
    socket.on('message', (message, rinfo) => this.onMessage(message, rinfo));
  }

  static listen(options: LocalUdpForwardOptions): Promise<LocalUdpForward> {
    const socket = createSocket({ type: isIPv6(options.bindHost) ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      socket.once('error', (err) => reject(listenError(err, { host: options.bindHost, port: options.bindPort, what: 'The UDP forward', flag: '-L', protocol: 'udp' })));
      socket.bind(options.bindPort, options.bindHost, () => {
        socket.removeAllListeners('error');
        const forward = new LocalUdpForward(socket, options);
        socket.on('error', (err) => options.logger?.warn({ err }, 'The local UDP socket reported an error.'));
        resolve(forward);
      });
    });
  }

  address(): { address: string; port: number } {
    return this.socket.address();
  }

  get flowCount(): number {
    return this.flows.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const flow of this.flows.values()) flow.channel?.close();
    this.flows.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(message: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      if (this.flows.size >= (this.options.maxFlows ?? 1024)) {
        this.counters.dropped++;
        return;
      }
      flow = { channel: undefined, pending: [], lastActive: Date.now() };
      this.flows.set(key, flow);
      this.open(key, flow, rinfo);
    }
    flow.lastActive = Date.now();
    this.counters.datagramsUp++;
    this.counters.bytesUp += message.length;
    if (flow.channel !== undefined) {
      if (!flow.channel.send(message)) this.counters.dropped++;
    } else if (flow.pending.length < (this.options.maxPending ?? 64)) {
      flow.pending.push(message);
    } else {
      this.counters.dropped++;
    }
  }

  private open(key: string, flow: Flow, rinfo: RemoteInfo): void {
    const { host, port } = this.options.target;
    this.options.openUdpFlow(host, port).then(
      (channel) => {
        if (this.flows.get(key) !== flow) {
          channel.close();
          return;
        }
        this.counters.flowsOpened++;
        flow.channel = channel;
        channel.onDatagram((payload) => {
          flow.lastActive = Date.now();
          this.counters.datagramsDown++;
          this.counters.bytesDown += payload.length;
          this.socket.send(payload, rinfo.port, rinfo.address);
        });
        channel.onClose((error) => {
          if (this.flows.get(key) === flow) this.flows.delete(key);
          if (error) this.options.logger?.info({ source: `${rinfo.address}:${rinfo.port}`, err: error }, 'A UDP flow through the tunnel ended with an error.');
        });
        for (const payload of flow.pending) if (!channel.send(payload)) this.counters.dropped++;
        flow.pending = [];
      },
      (err: unknown) => {
        this.counters.flowsFailed++;
        this.counters.dropped += flow.pending.length;
        if (this.flows.get(key) === flow) this.flows.delete(key);
        logUdpFlowRefused(this.options.logger, formatEndpoint({ host: rinfo.address, port: rinfo.port }), { host, port }, err);
      },
    );
  }

  private sweep(): void {
    const deadline = Date.now() - this.idleTimeoutMs;
    for (const [key, flow] of this.flows) {
      if (flow.lastActive <= deadline && flow.channel !== undefined) {
        this.flows.delete(key);
        flow.channel.close();
      }
    }
  }
}
