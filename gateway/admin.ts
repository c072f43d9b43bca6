/**
 * The admin listener (`--admin HOST:PORT`, off by default, never the public port): what a load
 * balancer, Kubernetes and Prometheus ask a gateway.
 *   GET /metrics  Prometheus text (with --workers: every worker summed, served by the primary)
 *   GET /healthz  200 while the process lives and its event loop answers (this reply is the proof)
 *   GET /readyz   200 while it takes new tunnels, 503 from the moment a drain starts
 *   GET /sessions who is connected, as JSON `{ sessions: SessionView[] }` (gateway/sessions.ts:
 *                 user, kind, subject/email, source, gateway, since, tunnels, bytes, transports;
 *                 never a destination); with --workers, every worker's, joined by the primary
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/log.js';
import type { Endpoint } from '../shared/profile.js';
import type { MetricsSource } from './metrics.js';
import type { SessionView } from './sessions.js';
import { LISTENER_OPTIONS } from '../node/socket-options.js';
import { listenExplained } from '../node/listen-error.js';

export interface AdminOptions {
  readonly listen: Endpoint;
  readonly metrics: MetricsSource;
  readonly ready: () => boolean;
  readonly logger: Logger;
  /** Who is connected now (absent: no /sessions, a 404 as for any other path). */
  readonly sessions?: () => Promise<SessionView[]>;
}

export interface AdminListener {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

export async function startAdmin({ listen, metrics, ready, logger, sessions }: AdminOptions): Promise<AdminListener> {
  const server: Server = createServer(LISTENER_OPTIONS, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...TEXT, allow: 'GET, HEAD' }).end('Only GET.\n');
      return;
    }
    switch (path) {
      case '/healthz':
        res.writeHead(200, TEXT).end('ok\n');
        return;
      case '/readyz': {
        const isReady = ready();
        res.writeHead(isReady ? 200 : 503, TEXT).end(isReady ? 'ready\n' : 'draining\n');
        return;
      }
      case '/metrics':
        metrics.text().then(
          (text) => res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(text),
          (err: unknown) => {
            logger.warn({ err: (err as Error).message }, 'The metrics could not be collected.');
            res.writeHead(500, TEXT).end('The metrics could not be collected.\n');
          },
        );
        return;
      case '/sessions':
        if (sessions === undefined) break;
        sessions().then(
          (list) => {
            const body = `${JSON.stringify({ sessions: list })}\n`;
            res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) }).end(body);
          },
          (err: unknown) => {
            logger.warn({ err: (err as Error).message }, 'The sessions could not be collected.');
            res.writeHead(500, TEXT).end('The sessions could not be collected.\n');
          },
        );
        return;
    }
    res.writeHead(404, TEXT).end(`Not found. Try /metrics, /healthz, /readyz${sessions === undefined ? '' : ' or /sessions'}.\n`);
  });
  server.keepAliveTimeout = 5_000;
  await listenExplained(server, { host: listen.host, port: listen.port, what: 'The admin listener', flag: '--admin' });
  const address = server.address() as AddressInfo;
  logger.info({ admin: `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}` }, 'The admin listener is up (/metrics, /healthz, /readyz).');
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
