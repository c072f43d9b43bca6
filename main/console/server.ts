/**
 * The browser console: an HTTP server on 127.0.0.1 that serves the built renderer and a WebSocket
 * speaking the UI contract. Access needs the one-time token printed at start: the page exchanges
 * it for an HttpOnly session cookie, and the WebSocket accepts only that session from the
 * console's own Origin (anything else is closed with 1008 and a reason). The Host header is
 * checked too, so a rebinding DNS name cannot reach it from a web page.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_MESSAGE_BYTES, answerFrame, createServer, eventFrame, type ContractServer, type EventName, type Handlers, type ServerTransport } from '../../shared/contract.js';
import type { Disposer } from '../../shared/engine-api.js';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { parseEndpoint } from '../../shared/profile.js';
import { contentSecurityPolicy, cookieValue, sameSecret, sendSecurityHeaders, serveStaticFile } from '../../node/web-console.js';
import { LISTENER_OPTIONS } from '../../node/socket-options.js';
import { listenExplained } from '../../node/listen-error.js';

export const SESSION_COOKIE = 'pinhole_console';
export const WS_PATH = '/ws';
/** WebSocket close code for "policy violation" (RFC 6455). */
export const POLICY_VIOLATION = 1008;

export interface ConsoleOptions {
  handlers: Handlers;
  /** Events to forward to every connected page. */
  onEvent: (listener: (event: EventName, payload: unknown) => void) => Disposer;
  /** The built renderer (index.html and assets). */
  staticDir: string;
  /** 127.0.0.1:PORT (port 0 picks one). Only loopback addresses are accepted. */
  listen?: string;
  logger: Logger;
  /** Fixed token, for tests; random otherwise. */
  token?: string;
}

export interface RunningConsole {
  url: string;
  origin: string;
  port: number;
  token: string;
  server: ContractServer;
  close(): Promise<void>;
}

export { contentSecurityPolicy };

/** `--listen`: a loopback address and a port (0 picks a free one); anything else is a usage error. */
export const parseConsoleListen = (text: string): { host: string; port: number } => {
  const listen = text.endsWith(':0') ? { ...parseEndpoint(`${text.slice(0, -2)}:1`), port: 0 } : parseEndpoint(text);
  if (!listen?.host || !['127.0.0.1', '::1', 'localhost'].includes(listen.host)) {
    throw new PinholeError('PINHOLE_USAGE', 'The console listens on a loopback address only, e.g. --listen 127.0.0.1:7777.');
  }
  return { host: listen.host, port: listen.port };
};

export const startConsole = async (options: ConsoleOptions): Promise<RunningConsole> => {
  const listen = parseConsoleListen(options.listen ?? '127.0.0.1:0');
  const token = options.token ?? randomBytes(24).toString('base64url');
  let tokenUsed = false;
  const sessions = new Set<string>();
  const log = options.logger;
  const sockets = new Set<WebSocket>();
  let origin = '';
  let allowedHosts: string[] = [];

  const security = (res: ServerResponse): void => sendSecurityHeaders(res, origin);

  const refuse = (res: ServerResponse, status: number, text: string): void => {
    security(res);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`${text}\n`);
  };

  const sessionOf = (req: IncomingMessage): string | undefined => {
    const value = cookieValue(req.headers.cookie, SESSION_COOKIE);
    return value && [...sessions].some((s) => sameSecret(s, value)) ? value : undefined;
  };

  const serveFile = (res: ServerResponse, path: string, cache: string): Promise<boolean> => serveStaticFile(res, options.staticDir, path, cache, security);

  const http: Server = createHttpServer(LISTENER_OPTIONS, (req, res) => {
    void (async () => {
      if (!allowedHosts.includes(req.headers.host ?? '')) return refuse(res, 421, 'This console answers only on its own address.');
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed.');
      const url = new URL(req.url ?? '/', origin);
      const offered = url.searchParams.get('token');
      if (offered !== null) {
        if (!tokenUsed && sameSecret(offered, token)) {
          tokenUsed = true;
          const session = randomBytes(32).toString('base64url');
          sessions.add(session);
          log.info({ event: 'console-session' }, 'A browser opened the console.');
          res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`);
          res.writeHead(303, { Location: '/', 'Cache-Control': 'no-store' });
          return res.end();
        }
        if (sessionOf(req)) {
          res.writeHead(303, { Location: '/', 'Cache-Control': 'no-store' });
          return res.end();
        }
        log.warn({ event: 'console-token-rejected' }, 'A browser offered a wrong or already used console token.');
        return refuse(res, 403, 'This console link is wrong or was already used. Run `pinhole console` again for a new link.');
      }
      if (url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg') {
        if (await serveFile(res, url.pathname, 'public, max-age=31536000, immutable')) return;
        return refuse(res, 404, 'Not found.');
      }
      if (url.pathname !== '/' && url.pathname !== '/index.html') return refuse(res, 404, 'Not found.');
      if (!sessionOf(req)) return refuse(res, 403, 'Open the console with the link `pinhole console` printed (it carries a one-time token).');
      if (!(await serveFile(res, 'index.html', 'no-store'))) refuse(res, 500, 'The console UI is not built; run `npm run build:renderer`.');
    })().catch((error: unknown) => {
      log.error({ err: error }, 'The console could not answer a request.');
      if (!res.headersSent) refuse(res, 500, 'Internal error.');
      else res.destroy();
    });
  });

  // Twice the contract limit: between the two, a frame is refused with a contract error; above, the socket closes (1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES * 2 });

  const transport: ServerTransport = {
    serve(dispatch) {
      const onConnection = (socket: WebSocket): void => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.terminate());
        socket.on('message', (data, isBinary) => {
          if (isBinary) {
            socket.close(POLICY_VIOLATION, 'Pinhole speaks JSON text frames only.');
            return;
          }
          void answerFrame(dispatch, data.toString()).then((reply) => {
            if (reply !== undefined && socket.readyState === socket.OPEN) socket.send(reply);
          });
        });
      };
      wss.on('connection', onConnection);
      return () => wss.off('connection', onConnection);
    },
    publish(event, payload) {
      const frame = eventFrame(event, payload);
      for (const socket of sockets) if (socket.readyState === socket.OPEN) socket.send(frame);
    },
  };
  const server = createServer(options.handlers, transport);
  const stopEvents = options.onEvent((event, payload) => {
    try {
      server.emit(event, payload as never);
    } catch (error) {
      log.error({ err: error, event }, 'An engine event did not match the contract and was not sent.');
    }
  });

  http.on('upgrade', (req, socket, head) => {
    // node:http let go of the socket's 'error' before this event: a client that resets must not throw.
    socket.on('error', () => socket.destroy());
    const reject = (reason: string): void => {
      log.warn({ event: 'console-ws-rejected', origin: req.headers.origin ?? null }, reason);
      wss.handleUpgrade(req, socket, head, (ws) => ws.close(POLICY_VIOLATION, reason));
    };
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== WS_PATH || !allowedHosts.includes(req.headers.host ?? '')) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    const requestOrigin = req.headers.origin;
    if (requestOrigin === undefined || !allowedHosts.some((host) => requestOrigin === `http://${host}`)) {
      reject('Refused: the page is not the Pinhole console (foreign Origin).');
      return;
    }
    if (!sessionOf(req)) {
      reject('Refused: no valid console token; open the link pinhole console printed.');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await listenExplained(http, { host: listen.host, port: listen.port, what: 'The console', flag: '--listen' }, listen.host === 'localhost' ? '127.0.0.1' : listen.host);
  const address = http.address() as AddressInfo;
  const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${hostText}:${address.port}`;
  allowedHosts = [`${hostText}:${address.port}`, `localhost:${address.port}`];
  log.info({ listen: `${hostText}:${address.port}` }, 'The console is listening.');

  return {
    url: `${origin}/?token=${token}`,
    origin,
    port: address.port,
    token,
    server,
    async close() {
      stopEvents();
      server.dispose();
      for (const socket of sockets) socket.close(1001, 'Pinhole is stopping.');
      wss.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
};
