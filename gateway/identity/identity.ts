/**
 * The gateway's sign-in with identity providers (issue 18), built from gateway.yaml's `identity:`:
 * the token checks (issuers.ts), the fleet's tunnel credentials (credentials.ts) and the exchange
 * route in front of the web fallback (exchange.ts). Absent settings: none of it exists.
 */
import { isAbsolute, join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { TunnelCredentials } from './credentials.js';
import { withCredentialExchange, type AnyRequest, type AnyResponse, type WebHandler } from './exchange.js';
import { IdentityVerifier } from './issuers.js';
import type { IdentitySettings } from './settings.js';

export class GatewayIdentity {
  readonly verifier: IdentityVerifier;
  readonly credentials: TunnelCredentials;

  constructor(
    settings: IdentitySettings,
    dir: string,
    private readonly logger: Logger,
  ) {
    const keysFile = isAbsolute(settings.credentialKeys) ? settings.credentialKeys : join(dir, settings.credentialKeys);
    this.credentials = new TunnelCredentials(keysFile, settings.credentialLifetime, settings.clockSkew, logger);
    this.verifier = new IdentityVerifier(settings.issuers, settings.clockSkew);
  }

  /** `web` with `POST /pinhole/credential` served in front of it. */
  route<Req extends AnyRequest, Res extends AnyResponse>(web: WebHandler<Req, Res>): WebHandler<Req, Res> {
    return withCredentialExchange(web, { verifier: this.verifier, credentials: this.credentials, logger: this.logger });
  }

  watch(): void {
    this.credentials.watch();
  }

  unwatch(): void {
    this.credentials.unwatch();
  }
}

/** A door's `web` option: the exchange in front of the web site (or of the door's 404) when identity is set up. */
export const webOption = <Req extends AnyRequest, Res extends AnyResponse>(identity: GatewayIdentity | undefined, web: WebHandler<Req, Res> | undefined, notFound: WebHandler<Req, Res>): { web?: WebHandler<Req, Res> } =>
  identity === undefined ? (web === undefined ? {} : { web }) : { web: identity.route(web ?? notFound) };
