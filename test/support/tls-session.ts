/**
 * One TLS handshake that reports whether a session was resumed and the ticket to offer next time.
 * A resumed TLS 1.3 handshake brings no new ticket; a full one brings its ticket just after.
 */
import { connect as tlsConnect } from 'node:tls';

export interface Handshake {
  resumed: boolean;
  ticket: Buffer;
}

export const tlsHandshake = ({ port, servername, session, maxVersion = 'TLSv1.3' }: { port: number; servername: string; session?: Buffer; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<Handshake> =>
  new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, maxVersion, ...(session === undefined ? {} : { session }) }, () => {
      if (!socket.isSessionReused()) return;
      resolve({ resumed: true, ticket: session ?? Buffer.alloc(0) });
      socket.end();
    });
    socket.once('session', (ticket: Buffer) => {
      if (socket.isSessionReused()) return;
      resolve({ resumed: false, ticket });
      socket.end();
    });
    socket.once('error', reject);
  });
