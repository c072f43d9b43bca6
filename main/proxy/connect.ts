/**
 * CONNECT handling: `CONNECT host:port` gets its route, a byte stream to the destination (a tunnel,
 * an early tunnel or a direct socket), `200 Connection Established`, and then bytes both ways
 * through the one relay (node/relay.ts) until both sides end. Every failure before the 200 is a refusal with a code.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PinholeError } from '../../shared/errors.js';
import { formatEndpoint, parseEndpoint } from '../../shared/profile.js';
import { relayTunnel } from '../../node/native/tunnel-stream.js';
import { asPinholeError } from '../../node/refusal.js';
import { reach, type ProxyContext } from './context.js';
import { blockRefusal, refusalHead } from './refusal.js';

const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n', 'latin1');

export const handleConnect = async (context: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> => {
  socket.on('error', () => undefined);
  const target = parseEndpoint(req.url ?? '');
  if (!target) {
    socket.end(refusalHead(new PinholeError('PINHOLE_BAD_REQUEST', 'CONNECT needs a target of the form host:port.')));
    return;
  }
  const where = formatEndpoint(target);
  const decision = await context.route({ ...target, socket });
  if (decision.route === 'block') {
    const err = blockRefusal(decision, where);
    context.refused(err, req.url ?? '', 'block');
    socket.end(refusalHead(err));
    return;
  }
  const early = decision.route === 'tunnel' ? context.opener.openEarly(target) : undefined;
  let upstream: Duplex;
  let answered: Promise<void> | undefined;
  try {
    if (early) ({ stream: upstream, answered } = await early);
    else upstream = await reach(context, target, decision.route);
  } catch (err) {
    const error = asPinholeError(err, 'PINHOLE_CONNECT_FAILED');
    context.refused(error, where, decision.route);
    if (!socket.destroyed) socket.end(refusalHead(error));
    return;
  }
  if (socket.destroyed) {
    upstream.destroy();
    return;
  }
  const release = context.tunnels.opened();
  // A tunnel whose gateway session was given up (nothing arrived for the session timeout) reaches
  // the application as a reset, as a broken TCP path would: never as a clean end, never as a hang.
  // Other ends (a gateway's own timeout, a refusal) close it as before.
  upstream.once('error', (err: unknown) => {
    if (socket.destroyed || socket.writableEnded) return;
    if (err instanceof PinholeError && err.code === 'PINHOLE_GATEWAY_UNRESPONSIVE') socket.resetAndDestroy();
  });
  // Each direction ends on its own (a FIN from the application still lets the whole answer arrive);
  // an early tunnel delivers nothing until the gateway accepted it, so no refusal reaches the application.
  // A native tunnel takes both ends over (node/native/tunnel-stream.ts).
  relayTunnel(socket, upstream, { ...context.relayTimeouts, toApplication: ESTABLISHED, toGateway: head, done: release, ...(answered ? { holdDown: answered } : {}) });
  // Started early, the application already has its 200: a refusal can only end the connection.
  answered?.catch((err: unknown) => {
    context.refused(asPinholeError(err, 'PINHOLE_CONNECT_FAILED'), where, 'tunnel, started early');
    socket.destroy();
  });
};
