/**
 * Checks an identity provider's ID or access token (a JWT) for the token exchange: which of the
 * configured issuers sent it, its signature against that issuer's JWKS (found through its discovery
 * document, fetched and cached by jose's createRemoteJWKSet), issuer, audience and expiry with the
 * configured clock skew, then the allowed groups or e-mail domains. Every refusal is a PinholeError
 * with its own code; an issuer that cannot be reached is PINHOLE_IDENTITY_ISSUER_UNREACHABLE.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { PinholeError, type ErrorCode } from '../../shared/errors.js';
import type { CredentialIdentity } from './credentials.js';
import type { IssuerSettings } from './settings.js';

/** Signatures identity providers use; never HS* (a JWKS holds public keys). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** How long a discovery or JWKS request may take. */
const FETCH_TIMEOUT_MS = 5_000;

type KeySet = ReturnType<typeof createRemoteJWKSet>;

const refusal = (code: ErrorCode, issuer?: string, cause?: unknown): PinholeError =>
  new PinholeError(code, undefined, { ...(cause === undefined ? {} : { cause }), ...(issuer === undefined ? {} : { details: { issuer } }) });

/** The issuer's JWKS URL: configured, else from its discovery document. */
async function discoverJwksUri(settings: IssuerSettings, fetchFn: typeof fetch): Promise<string> {
  if (settings.jwksUri !== undefined) return settings.jwksUri;
  const url = `${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetchFn(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const doc = (await res.json()) as { jwks_uri?: unknown };
  if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} names no jwks_uri`);
  return doc.jwks_uri;
}

/** A provider's answer could not be had (network, timeout, non-200, not JSON): anything but a verdict on the token. */
const unreachable = (err: unknown): boolean =>
  err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError) || /HTTP response/.test((err as Error).message);

class TrustedIssuer {
  private keys: Promise<KeySet> | undefined;

  constructor(
    readonly settings: IssuerSettings,
    private readonly fetchFn: typeof fetch,
  ) {}

  keySet(): Promise<KeySet> {
    this.keys ??= discoverJwksUri(this.settings, this.fetchFn).then((uri) => createRemoteJWKSet(new URL(uri), { timeoutDuration: FETCH_TIMEOUT_MS }));
    // A failed discovery is tried again by the next token, not remembered.
    this.keys.catch(() => (this.keys = undefined));
    return this.keys;
  }

  /** Groups and e-mail domain, when the settings restrict them. */
  allows(payload: JWTPayload): boolean {
    const { allowedGroups, allowedDomains, groupsClaim } = this.settings;
    const groups = payload[groupsClaim];
    const inGroup = allowedGroups === undefined || (Array.isArray(groups) && groups.some((g) => typeof g === 'string' && allowedGroups.includes(g)));
    const email = verifiedEmailOf(payload);
    const domain = email?.slice(email.lastIndexOf('@') + 1).toLowerCase();
    const inDomain = allowedDomains === undefined || (domain !== undefined && allowedDomains.some((d) => d.toLowerCase() === domain));
    return inGroup && inDomain;
  }
}

/** The e-mail claim unless the provider says it is not verified. */
const verifiedEmailOf = (payload: JWTPayload): string | undefined => {
  const email = payload['email'];
  return typeof email === 'string' && email.includes('@') && payload['email_verified'] !== false ? email : undefined;
};

export class IdentityVerifier {
  private readonly issuers = new Map<string, TrustedIssuer>();

  constructor(
    settings: readonly IssuerSettings[],
    private readonly clockSkewSeconds: number,
    fetchFn: typeof fetch = fetch,
  ) {
    for (const s of settings) this.issuers.set(s.issuer, new TrustedIssuer(s, fetchFn));
  }

  /** The token's identity, or throws PINHOLE_IDENTITY_TOKEN_INVALID / _TOKEN_EXPIRED / _ISSUER_UNKNOWN / _AUDIENCE_MISMATCH / _NOT_ALLOWED / _ISSUER_UNREACHABLE. */
  async verify(token: string): Promise<CredentialIdentity> {
    let claimed: JWTPayload;
    try {
      claimed = decodeJwt(token);
    } catch (err) {
      throw refusal('PINHOLE_IDENTITY_TOKEN_INVALID', undefined, err);
    }
    const issuer = typeof claimed.iss === 'string' ? this.issuers.get(claimed.iss) : undefined;
    if (issuer === undefined) throw refusal('PINHOLE_IDENTITY_ISSUER_UNKNOWN', typeof claimed.iss === 'string' ? claimed.iss.slice(0, 200) : undefined);
    const name = issuer.settings.issuer;
    let payload: JWTPayload;
    try {
      const keys = await issuer.keySet();
      ({ payload } = await jwtVerify(token, keys, { algorithms: ALGORITHMS, issuer: name, audience: issuer.settings.audience, clockTolerance: this.clockSkewSeconds, requiredClaims: ['sub', 'exp'] }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw refusal('PINHOLE_IDENTITY_TOKEN_EXPIRED', name, err);
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') throw refusal('PINHOLE_IDENTITY_AUDIENCE_MISMATCH', name, err);
      if (unreachable(err)) throw refusal('PINHOLE_IDENTITY_ISSUER_UNREACHABLE', name, err);
      throw refusal('PINHOLE_IDENTITY_TOKEN_INVALID', name, err);
    }
    if (!issuer.allows(payload)) throw refusal('PINHOLE_IDENTITY_NOT_ALLOWED', name);
    const email = verifiedEmailOf(payload);
    return { subject: String(payload.sub), issuer: name, ...(email === undefined ? {} : { email }) };
  }
}
