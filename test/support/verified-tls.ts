/**
 * A TLS connection to a gateway verified the way the client verifies it (main/tunnel/verify.ts:
 * SNI is the gateway's name, the pin or CA checked before anything is written), for tests that
 * need "a verified connection" without the transports: TCP, TLS, verify, and give up on `signal`.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Endpoint, Trust } from '../../shared/profile.js';
import { gatewayError, tlsOptionsFor, verifyPeer } from '../../main/tunnel/verify.js';

export interface VerifiedTlsOptions {
  serverName: string;
  trust: Trust;
  alpn?: string[];
  signal?: AbortSignal;
}

export const dialVerifiedTls = (endpoint: Endpoint, options: VerifiedTlsOptions): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
    const raw = netConnect({ host: endpoint.host, port: endpoint.port });
    const tls = tlsConnect({ socket: raw, ...tlsOptionsFor(options.trust, options.serverName), ...(options.alpn ? { ALPNProtocols: options.alpn } : {}) });
    const onAbort = (): void => {
      tls.destroy();
      raw.destroy();
      reject(options.signal?.reason);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    raw.once('error', (err) => reject(gatewayError(err, 'tcp')));
    tls.once('error', (err) => reject(gatewayError(err, 'tls')));
    tls.once('secureConnect', () => {
      options.signal?.removeEventListener('abort', onAbort);
      try {
        verifyPeer(tls, options.trust);
        resolve(tls);
      } catch (err) {
        tls.destroy();
        reject(err);
      }
    });
  });
