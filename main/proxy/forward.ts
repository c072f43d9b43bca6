/**
 * Absolute-URI forwarding: `GET http://host/path` and every other method, with bodies, chunked
 * encoding and keep-alive with the application. The request goes by its route: through a tunnel,
 * direct, or (HTTP/1.1 gateways) as a proxy request to the gateway itself, whose own refusals are
 * told apart from the origin's answers.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import { PinholeError } from '../../shared/errors.js';
import { formatEndpoint } from '../../shared/profile.js';
import { asPinholeError, refusalError } from '../../node/refusal.js';
import { reach, type ProxyContext } from './context.js';
import { answerRefusal, blockRefusal } from './refusal.js';
import type { ConnectionAgents } from './tunnel-agent.js';

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The end-to-end headers: hop-by-hop ones, and those the Connection header names, stay behind. */
export const forwardHeaders = (headers: IncomingHttpHeaders): OutgoingHttpHeaders => {
  const named = new Set((headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
};

/** A refusal by the gateway itself (not the origin's answer): 407 always, or marked by Pinhole or Squid. */
const proxyRefusal = (res: IncomingMessage, user: string, target: string): PinholeError | undefined => {
  const status = res.statusCode ?? 502;
  const code = res.headers['pinhole-error'];
  if (status !== 407 && code === undefined && res.headers['x-squid-error'] === undefined) return undefined;
  if (status < 400) return undefined;
  return refusalError(status, typeof code === 'string' ? code : undefined, user, target, res.headers['pinhole-reason']);
};

/** The request's target as a URL, or the refusal that says why it is not one the proxy forwards. */
const targetUrl = (raw: string): URL | PinholeError => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return new PinholeError('PINHOLE_BAD_REQUEST', 'The request target is not a valid URL.');
  }
  if (url.protocol !== 'http:') return new PinholeError('PINHOLE_BAD_REQUEST', `The local proxy forwards http:// URLs; use CONNECT for ${url.protocol}//.`);
  return url;
};

/** Forwards one absolute-URI request and pipes the answer back; every failure becomes an answer with a code. */
export const forwardRequest = async (context: ProxyContext, agents: ConnectionAgents, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const url = targetUrl(req.url ?? '');
  if (url instanceof PinholeError) {
    answerRefusal(res, url);
    return;
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const target = { host, port: url.port === '' ? 80 : Number(url.port) };
  const where = formatEndpoint(target);
  const decision = await context.route({ ...target, socket: req.socket });
  if (decision.route === 'block') {
    const err = blockRefusal(decision, where);
    context.refused(err, where, 'block');
    answerRefusal(res, err);
    return;
  }
  const route = decision.route;
  const headers = forwardHeaders(req.headers);
  headers.host = url.host;
  const forward = route === 'tunnel' ? context.forwardHttp : undefined;
  if (forward) headers['proxy-authorization'] = forward.authorization();
  const counted = (opening: Promise<Duplex>): Promise<Duplex> =>
    opening.then((stream) => {
      stream.once('close', context.tunnels.opened());
      return stream;
    });
  const upstreamReq = httpRequest({
    host: isIP(host) === 6 ? `[${host}]` : host,
    port: target.port,
    method: req.method,
    path: forward ? url.href : `${url.pathname}${url.search}`,
    headers,
    setHost: false,
    agent: forward
      ? agents.for(req.socket, 'gateway-proxy', () => counted(forward.connections.proxyConnection()))
      : agents.for(req.socket, route, (to) => counted(reach(context, to, route))),
  });
  upstreamReq.setTimeout(context.responseTimeoutMs, () => upstreamReq.destroy(new PinholeError('PINHOLE_CONNECT_TIMEOUT', 'The destination did not answer in time.')));
  upstreamReq.once('error', (err) => {
    const error = asPinholeError(err, 'PINHOLE_CONNECT_FAILED');
    context.refused(error, where, route);
    req.unpipe(upstreamReq);
    if (!res.headersSent) answerRefusal(res, error);
    else res.destroy();
  });
  upstreamReq.once('response', (upstreamRes) => {
    upstreamReq.setTimeout(0);
    const refusal = forward ? proxyRefusal(upstreamRes, forward.user, where) : undefined;
    if (refusal) {
      upstreamRes.resume();
      context.refused(refusal, where, route);
      answerRefusal(res, refusal);
      return;
    }
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, forwardHeaders(upstreamRes.headers));
    pipeline(upstreamRes, res, (err) => {
      if (err) res.destroy();
    });
  });
  res.once('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
  pipeline(req, upstreamReq, () => undefined);
};
