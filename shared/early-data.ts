/**
 * Early start on the HTTP/1.1 and WebSocket transports (issue 24): a Pinhole gateway reads the
 * bytes that follow a CONNECT head (or a WebSocket upgrade request) as the tunnel's first bytes,
 * and says so with this header (value `1`) in its 200 (or 101). A client starts a tunnel before
 * the answer only on a gateway that sent it; stunnel + Squid never does, so the seed's stack is
 * never started early (Squid would read such bytes after a refusal as a next request).
 */
export const EARLY_DATA_HEADER = 'Pinhole-Early-Data';
