/**
 * The whole Pinhole path on loopback, as tests and the benchmark use it:
 * origin (HTTP + HTTPS) <- gateway (restricted to the origin's two ports) <- client (from a link).
 * Optionally a relay sits between client and gateway (`via`), and the link points at the relay.
 */
import { startClient, type RunningClient } from './client.js';
import { startGateway, type GatewayOptions, type RunningGateway } from './gateway.js';
import { startOrigin, type Origin } from './origin.js';
import { Peers } from './processes.js';

export interface PinholeStack {
  origin: Origin;
  gateway: RunningGateway;
  client: RunningClient;
  link: string;
  peers: Peers;
  /** The local proxy as `ProxyAddress`. */
  proxy: { port: number };
  stop: () => Promise<void>;
}

export interface StackOptions {
  gateway?: GatewayOptions;
  /** Put something between client and gateway: gets the gateway's port, returns the port the client should use. */
  via?: (gatewayPort: number, peers: Peers) => Promise<number>;
  clientArgs?: string[];
  origin?: Origin;
  /** The gateway's `--restrict-to` list, computed from the origin (default: its HTTPS and HTTP ports). */
  gatewayRestrictTo?: (origin: Origin) => string[];
}

export const startPinholeStack = async (options: StackOptions = {}, peers = new Peers()): Promise<PinholeStack> => {
  try {
    const origin = options.origin ?? peers.add(await startOrigin());
    const gateway = peers.add(
      await startGateway({
        ...options.gateway,
        restrictTo: options.gateway?.restrictTo ?? options.gatewayRestrictTo?.(origin) ?? [`127.0.0.1:${origin.httpsPort}`, `127.0.0.1:${origin.httpPort}`],
      }),
    );
    const endpointPort = options.via ? await options.via(gateway.port, peers) : gateway.port;
    const link = await gateway.provision({ endpoint: `127.0.0.1:${endpointPort}` });
    const client = peers.add(await startClient({ link, extraArgs: options.clientArgs ?? [] }));
    return { origin, gateway, client, link, peers, proxy: { port: client.port }, stop: () => peers.close() };
  } catch (err) {
    process.stderr.write(`\n${peers.transcripts()}\n`);
    await peers.close();
    throw err;
  }
};
