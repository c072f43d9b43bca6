/**
 * The gateway's TLS: the certificate, the session-ticket keys (a fleet's shared file: the first key
 * encrypts, every one decrypts) and their reload without a restart. Node's `ticketKeys` takes
 * exactly one key, so there is one TLS server per key; the multiplexer hands each connection here
 * with the ClientHello it already parsed, whose ticket's key name picks the server that can
 * resume it. What the servers offer (versions, ciphers) is the TLS profile (tls-profile.ts,
 * --tls-profile). A finished handshake goes to the doors (doors.ts), by ALPN.
 */
import { createHash } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../shared/log.js';
import { LISTENER_OPTIONS } from '../node/socket-options.js';
import type { GatewayMetrics } from './metrics.js';
import { connectionOf } from './mux/connection.js';
import type { ClientHello } from './sniff/index.js';
import { TICKET_KEYS, keyNameOf } from './ticket-keys.js';
import { RotatingKeys } from './rotating-keys.js';
import { readCertificateAndKey } from './tls-files.js';
import { tlsOffer, type TlsProfile } from './tls-profile.js';

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  readonly hostname: string;
  /** --tls-profile: Mozilla intermediate (TLS 1.2 ECDHE+AEAD, TLS 1.3) or modern (TLS 1.3 only). */
  readonly tlsProfile: TlsProfile;
  /** 48 bytes of session-ticket keys shared by every worker, so a ticket from one resumes on another. */
  readonly ticketKeys?: Buffer | undefined;
  /** A ticket-keys file (first key encrypts, all decrypt; reloaded when it changes). */
  readonly ticketKeysFile?: string | undefined;
}

/** Where a finished TLS handshake goes. */
export interface TlsConnectionHandler {
  handle(socket: TLSSocket): void;
}

export class TlsService {
  /** The server whose key encrypts new tickets. */
  readonly tls: TlsServer;
  private ticketKeys: Buffer | undefined;
  /** One TLS server per older ticket key, by key name, so tickets they issued still resume. */
  private decryptOnly = new Map<string, TlsServer>();
  private readonly ticketKeysFile: RotatingKeys | undefined;

  constructor(
    private readonly settings: TlsSettings,
    private readonly doors: TlsConnectionHandler,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.ticketKeys = settings.ticketKeys;
    this.ticketKeysFile = settings.ticketKeysFile === undefined ? undefined : new RotatingKeys(TICKET_KEYS, settings.ticketKeysFile, logger, (keys) => this.useTicketKeys(keys));
    const fileKeys = this.ticketKeysFile?.keys;
    if (fileKeys !== undefined) this.ticketKeys = fileKeys[0];
    this.tls = this.createTls(this.ticketKeys);
    if (fileKeys !== undefined) this.useDecryptOnlyKeys(fileKeys.slice(1));
  }

  /** Hand a raw socket (paused, its first bytes put back) to the TLS server whose ticket key the hello names, else the one that encrypts. */
  terminate(socket: Socket, hello: ClientHello | undefined): void {
    const name = hello?.ticketKeyName;
    const server = (name === undefined ? undefined : this.decryptOnly.get(name)) ?? this.tls;
    server.emit('connection', socket);
  }

  private secureContextOptions(ticketKeys = this.ticketKeys): SecureContextOptions & { ticketKeys?: Buffer } {
    return {
      ...tlsOffer(this.settings.tlsProfile),
      ...readCertificateAndKey(this.settings.certFile, this.settings.keyFile),
      // Node's default context is a hash of this process's argv, which differs between the gateways
      // of a fleet and would make OpenSSL refuse every ticket another gateway issued.
      sessionIdContext: createHash('sha256').update(`pinhole-gateway ${this.settings.hostname}`).digest('hex').slice(0, 32),
      ...(ticketKeys === undefined ? {} : { ticketKeys }),
    };
  }

  private createTls(ticketKeys: Buffer | undefined): TlsServer {
    const tls = createTlsServer({
      ...LISTENER_OPTIONS,
      ...this.secureContextOptions(ticketKeys),
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: 10_000,
    });
    tls.on('secureConnection', (socket: TLSSocket) => {
      this.metrics.tlsHandshakes.inc({ resumed: String(socket.isSessionReused()) });
      this.doors.handle(socket);
    });
    tls.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.logger.info({ err: err.message, ...connectionOf(socket) }, 'A TLS handshake failed.');
      socket.destroy();
    });
    return tls;
  }

  private useDecryptOnlyKeys(keys: readonly Buffer[]): void {
    const next = new Map<string, TlsServer>();
    for (const key of keys) {
      const name = keyNameOf(key);
      if (this.ticketKeys !== undefined && name === keyNameOf(this.ticketKeys)) continue;
      const server = this.decryptOnly.get(name) ?? this.createTls(key);
      server.setTicketKeys(key);
      next.set(name, server);
    }
    this.decryptOnly = next;
  }

  /** Re-read the ticket-keys file: the first key encrypts from now on, the others still decrypt. A bad file keeps the keys in use. */
  reloadTicketKeys(): void {
    this.ticketKeysFile?.reload();
  }

  private useTicketKeys([first, ...older]: readonly Buffer[]): void {
    this.ticketKeys = first;
    if (first !== undefined) this.tls.setTicketKeys(first);
    this.useDecryptOnlyKeys(older);
  }

  /** Reload cert/key from disk into the live TLS servers (no restart). */
  reloadCertificate(): void {
    try {
      this.tls.setSecureContext(this.secureContextOptions());
      for (const [, server] of this.decryptOnly) server.setSecureContext(this.secureContextOptions(server.getTicketKeys()));
      this.logger.info({ cert: this.settings.certFile }, 'The certificate was reloaded.');
    } catch (err) {
      this.logger.warn({ err, cert: this.settings.certFile }, 'The certificate could not be reloaded; the previous one stays.');
    }
  }

  /** Follow the certificate, key and ticket-keys files; `certificateChanged` also runs on a new certificate (the profile's pins follow it). */
  watch(certificateChanged: () => void): void {
    const reload = (): void => {
      certificateChanged();
      this.reloadCertificate();
    };
    watchFile(this.settings.certFile, { interval: 2000 }, reload);
    watchFile(this.settings.keyFile, { interval: 2000 }, reload);
    this.ticketKeysFile?.watch(1000);
  }

  unwatch(): void {
    unwatchFile(this.settings.certFile);
    unwatchFile(this.settings.keyFile);
    this.ticketKeysFile?.unwatch();
  }
}
