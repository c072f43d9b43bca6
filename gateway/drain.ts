/**
 * A drain: no new streams, every tunnel already asked for is served, and what is still open when
 * the time runs out is ended.
 */
import { constants as h2constants } from 'node:http2';
import type { Logger } from '../shared/log.js';
import type { Doors } from './doors.js';
import type { TunnelRegistry } from './tunnel-registry.js';

/**
 * HTTP/2 graceful shutdown (RFC 9113 6.8): a first GOAWAY naming the highest possible stream, so
 * clients stop opening streams here while every stream already on its way is still served, then
 * one PING round trip, after which the final GOAWAY (the last stream really received) refuses
 * nothing a client had sent. Without it, a CONNECT crossing the GOAWAY on the wire is refused.
 */
async function announceGoaway(doors: Doors): Promise<void> {
  const sessions = [...doors.h2.sessions].filter((s) => !s.closed && !s.destroyed);
  await Promise.all(
    sessions.map(
      (session) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2_000);
          try {
            session.goaway(h2constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
            session.ping(() => {
              clearTimeout(timer);
              resolve();
            });
          } catch {
            clearTimeout(timer);
            resolve();
          }
        }),
    ),
  );
}

/**
 * GOAWAY h2 sessions, close idle HTTP/1.1 connections, wait for open and pending tunnels until
 * `deadline` (a Date.now() time, counted from the stop so the GOAWAY round trip is inside it: a
 * client may not answer it), then end them.
 */
/** The front door's pass-through connections (mux/multiplexer.ts), on either byte path. */
export interface PassThroughs {
  readonly openPassThroughs: number;
  closeAll(): Promise<void>;
}

export async function drain(doors: Doors, tunnels: TunnelRegistry, deadline: number, logger: Logger, passThroughs?: PassThroughs): Promise<void> {
  await announceGoaway(doors);
  doors.h2.goaway();
  doors.h1.server.closeIdleConnections();
  // A CONNECT accepted before the GOAWAY but still being checked or dialled becomes a tunnel in a
  // moment: destroying its session now would fail a request the client can no longer re-send.
  // Pass-through connections (ssh, SNI, ...) are served to the end like tunnels, native relays too.
  const passing = (): number => passThroughs?.openPassThroughs ?? 0;
  const busy = (): boolean => tunnels.size > 0 || tunnels.pending > 0 || passing() > 0;
  while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (tunnels.size > 0 || passing() > 0) logger.warn({ openTunnels: tunnels.size, openPassThroughs: passing() }, 'The drain time ran out; closing the open tunnels and pass-through connections.');
  tunnels.abortAll();
  // Ended here, their lines logged before the process exits.
  await passThroughs?.closeAll();
  doors.destroyAll();
}
