/**
 * CONNECT handling: `CONNECT host:port` gets its route, a byte stream to the destination (a tunnel,
 * an early tunnel or a direct socket), `200 Connection Established`, and then bytes both ways
 * until both sides end. Every failure before the 200 is a refusal with a code.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import { formatEndpoint, parseEndpoint } from '../../shared/profile.js';
import { asPinholeError } from '../error-meaning.js';
import type { ProxyContext } from './context.js';
import { blockRefusal, refusalHead } from './refusal.js';

/**
 * Bytes both ways until both sides end; an error on either side ends the other promptly. A clean
 * finish is left to close by itself, so an HTTP/2 stream ends with END_STREAM, not a reset. An
 * early tunnel sends at once but delivers only once `answered`, so nothing of a refusal reaches
 * the application.
 */
const splice = (socket: Socket, upstream: Duplex, release: () => void, answered?: Promise<void>): void => {
  let pending = 2;
  const done = (err?: Error | null): void => {
    pending -= 1;
    if (err) {
      socket.destroy();
      upstream.destroy();
    }
    if (err || pending === 0) release();
  };
  pipeline(socket, upstream, done);
  if (answered) answered.then(() => pipeline(upstream, socket, done), done);
  else pipeline(upstream, socket, done);
};

export const handleConnect = async (context: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> => {
  socket.on('error', () => undefined);
  const target = parseEndpoint(req.url ?? '');
  if (!target) {
    socket.end(refusalHead('PINHOLE_BAD_REQUEST', 'CONNECT needs a target of the form host:port.'));
    return;
  }
  const where = formatEndpoint(target);
  const decision = await context.route({ ...target, socket });
  if (decision.route === 'block') {
    const err = blockRefusal(decision, where);
    context.refused(err, req.url ?? '', 'block');
    socket.end(refusalHead(err.code, err.message));
    return;
  }
  const early = decision.route === 'tunnel' ? context.openEarly(target) : undefined;
  let upstream: Duplex;
  let answered: Promise<void> | undefined;
  try {
    if (early) ({ stream: upstream, answered } = await early);
    else upstream = await context.reach(target, decision.route);
  } catch (err) {
    const error = asPinholeError(err, 'PINHOLE_CONNECT_FAILED');
    context.refused(error, where, decision.route);
    if (!socket.destroyed) socket.end(refusalHead(error.code, error.message));
    return;
  }
  if (socket.destroyed) {
    upstream.destroy();
    return;
  }
  const release = context.tunnels.opened();
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) upstream.write(head);
  splice(socket, upstream, release, answered);
  // Started early, the application already has its 200: a refusal can only end the connection.
  answered?.catch((err: unknown) => {
    context.refused(asPinholeError(err, 'PINHOLE_CONNECT_FAILED'), where, 'tunnel, started early');
    socket.destroy();
  });
};
