/**
 * The gateway's web face: after TLS termination, any request that is not a proxy request or a
 * tunnel goes to the operator's web site (`--web H:P`, reverse-proxied with X-Forwarded-For and
 * X-Forwarded-Proto, haproxy's `option forwardfor`), or, without one, to a plain decoy page, so
 * the port looks like an ordinary HTTPS site to a prober. Serves HTTP/1.1 and HTTP/2 requests.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { dial, errorCode } from '../../node/dial.js';
import { relay, type RelayTimeouts } from '../../node/relay.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint } from '../../shared/profile.js';
import { clientAddressOf } from './client-address.js';
import type { MuxTarget } from './config.js';
import { DIAL_SOCKET_OPTIONS } from '../../node/socket-options.js';

/** Headers that describe one hop and must not be forwarded (RFC 9110 7.6.1), plus proxy credentials. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Is this HTTP/1.1 request for the proxy (CONNECT, or an absolute URI like `GET http://host/`)
 * rather than for the web site (origin-form `/path`, or `*`)? A browser talking to the gateway as a
 * web site always sends origin-form.
 */
export const isProxyRequest = (method: string | undefined, url: string | undefined): boolean =>
  method === 'CONNECT' || (url !== undefined && url !== '*' && !url.startsWith('/'));

export const DECOY_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Welcome</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;color:#333}</style></head>
<body><h1>Welcome</h1><p>This site is working.</p></body></html>
`;

const NOT_FOUND_BODY = '<!doctype html><title>404 Not Found</title><h1>Not Found</h1>\n';

export interface WebFallbackOptions {
  readonly web?: MuxTarget | undefined;
  readonly logger: Logger;
  /** Give up on the web site after this long without an answer. */
  readonly timeoutMs?: number;
  /** --half-close-timeout and --idle-timeout for the web site's own upgraded connections. */
  readonly relayTimeouts?: RelayTimeouts;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

function forwardedHeaders(req: AnyRequest, isUpgrade: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionTokens = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
  for (const [name, value] of Object.entries(req.headers as IncomingHttpHeaders)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (HOP_BY_HOP.has(name) && !(isUpgrade && (name === 'upgrade' || name === 'connection'))) continue;
    if (connectionTokens.has(name) && !isUpgrade) continue;
    out[name] = value;
  }
  const authority = (req as Http2ServerRequest).authority as string | undefined;
  if (out['host'] === undefined && authority) out['host'] = authority;
  const client = clientAddressOf(req.socket as Socket)?.address;
  if (client !== undefined) {
    const prior = req.headers['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
  }
  out['x-forwarded-proto'] = 'https';
  if (out['host'] !== undefined) out['x-forwarded-host'] = out['host'];
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}

export class WebFallback {
  constructor(private readonly options: WebFallbackOptions) {}

  /** A request that is neither a proxy request nor a tunnel. */
  handle(req: AnyRequest, res: AnyResponse): void {
    const web = this.options.web;
    if (web === undefined) {
      this.decoy(req, res);
      return;
    }
    const upstream = httpRequest({
      ...DIAL_SOCKET_OPTIONS,
      host: web.host,
      port: web.port,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req, false),
      timeout: this.options.timeoutMs ?? 30_000,
    });
    const fail = (err: Error): void => {
      this.options.logger.warn({ web: formatEndpoint(web), errno: (err as { code?: string }).code }, 'The web site behind the gateway did not answer.');
      if (!res.headersSent) {
        (res as ServerResponse).writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Bad gateway\n');
      } else {
        res.destroy();
      }
    };
    upstream.once('timeout', () => upstream.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    upstream.once('error', fail);
    upstream.once('response', (answer) => {
      (res as ServerResponse).writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer.headers));
      answer.pipe(res as ServerResponse);
      answer.once('error', () => res.destroy());
    });
    req.once('error', () => upstream.destroy());
    (req as IncomingMessage).pipe(upstream);
  }

  /** An HTTP/1.1 Upgrade (e.g. the web site's own WebSockets) that is not the tunnel path: spliced to the web site. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const web = this.options.web;
    socket.on('error', () => undefined);
    if (web === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    dial({ host: web.host, port: web.port, timeoutMs: this.options.timeoutMs ?? 30_000 }).then(
      (upstream) => {
        if (socket.destroyed) {
          upstream.destroy();
          return;
        }
        const headers = forwardedHeaders(req, true);
        let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
        for (const [name, value] of Object.entries(headers)) {
          for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${String(v)}\r\n`;
        }
        upstream.write(`${text}\r\n`);
        if (head.length > 0) upstream.write(head);
        relay(socket, upstream, { ...this.options.relayTimeouts });
      },
      (err: unknown) => {
        this.options.logger.warn({ web: formatEndpoint(web), errno: errorCode(err) }, 'The web site behind the gateway did not answer.');
        if (!socket.destroyed) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      },
    );
  }

  private decoy(req: AnyRequest, res: AnyResponse): void {
    const found = req.url === '/' || req.url === '/index.html';
    const body = found ? DECOY_PAGE : NOT_FOUND_BODY;
    (res as ServerResponse).writeHead(found ? 200 : 404, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
    req.resume();
  }
}
