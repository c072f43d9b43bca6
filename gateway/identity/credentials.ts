/**
 * Tunnel credentials: short-lived JWTs (HS256 under the fleet's first credential key) that any
 * gateway holding the credential-keys file verifies offline. The file is re-read when it changes;
 * a bad file keeps the keys in use. A credential names the identity provider's subject, the user's
 * e-mail when the provider gave a verified one, and its expiry.
 */
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { RotatingKeys } from '../rotating-keys.js';
import { CREDENTIAL_KEYS, credentialKeyOf, type CredentialKey } from './credential-keys.js';

const ISSUER = 'pinhole-gateway';
const AUDIENCE = 'pinhole-tunnel';
const TYPE = 'pinhole-credential+jwt';

/** Who a credential stands for. */
export interface CredentialIdentity {
  /** The identity provider's `sub`. */
  readonly subject: string;
  /** The provider's `iss`. */
  readonly issuer: string;
  readonly email?: string | undefined;
}

export interface VerifiedCredential extends CredentialIdentity {
  /** The name tunnels are counted, limited and logged under: the e-mail, else the subject. */
  readonly user: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

export interface IssuedCredential {
  readonly credential: string;
  readonly expiresAt: number;
}

export const tunnelUserOf = (identity: CredentialIdentity): string => identity.email ?? identity.subject;

const identityOf = (payload: JWTPayload): CredentialIdentity | undefined => {
  const { sub, idp, email } = payload as JWTPayload & { idp?: unknown; email?: unknown };
  if (typeof sub !== 'string' || sub === '' || typeof idp !== 'string') return undefined;
  return { subject: sub, issuer: idp, ...(typeof email === 'string' ? { email } : {}) };
};

export class TunnelCredentials {
  private keys: CredentialKey[];
  private readonly file: RotatingKeys;

  constructor(
    file: string,
    private readonly lifetimeSeconds: number,
    private readonly clockSkewSeconds: number,
    logger: Logger,
  ) {
    this.file = new RotatingKeys(CREDENTIAL_KEYS, file, logger, (keys) => (this.keys = keys.map(credentialKeyOf)));
    this.keys = this.file.keys.map(credentialKeyOf);
  }

  async issue(identity: CredentialIdentity, now = Date.now()): Promise<IssuedCredential> {
    const [key] = this.keys;
    if (key === undefined) throw new PinholeError('PINHOLE_INTERNAL');
    const issuedAt = Math.floor(now / 1000);
    const expires = issuedAt + this.lifetimeSeconds;
    const credential = await new SignJWT({ idp: identity.issuer, ...(identity.email === undefined ? {} : { email: identity.email }) })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: TYPE })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(identity.subject)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expires)
      .sign(key.secret);
    return { credential, expiresAt: expires * 1000 };
  }

  /** The credential's identity, or throws PINHOLE_CREDENTIAL_EXPIRED (signed by the fleet, out of date; `details.user` says whose) or _INVALID. */
  async verify(credential: string, now = Date.now()): Promise<VerifiedCredential> {
    try {
      const { payload } = await jwtVerify(credential, (header) => this.secretFor(header.kid), {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: TYPE,
        clockTolerance: this.clockSkewSeconds,
        currentDate: new Date(now),
        requiredClaims: ['sub', 'exp'],
      });
      const identity = identityOf(payload);
      if (identity === undefined || payload.exp === undefined) throw new PinholeError('PINHOLE_CREDENTIAL_INVALID');
      return { ...identity, user: tunnelUserOf(identity), expiresAt: payload.exp * 1000 };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        // jose checks the signature before the claims: this credential was ours, so its owner may be named.
        const identity = identityOf(err.payload);
        throw new PinholeError('PINHOLE_CREDENTIAL_EXPIRED', undefined, { details: identity === undefined ? {} : { user: tunnelUserOf(identity) } });
      }
      if (err instanceof PinholeError) throw err;
      throw new PinholeError('PINHOLE_CREDENTIAL_INVALID', undefined, { cause: err });
    }
  }

  private secretFor(kid: string | undefined): Uint8Array {
    const key = this.keys.find((k) => k.kid === kid);
    if (key === undefined) throw new PinholeError('PINHOLE_CREDENTIAL_INVALID');
    return key.secret;
  }

  /** Re-read the file: its first key signs from now on, all verify. A bad file keeps the keys in use. */
  reload(): void {
    this.file.reload();
  }

  watch(): void {
    this.file.watch(2000);
  }

  unwatch(): void {
    this.file.unwatch();
  }
}
