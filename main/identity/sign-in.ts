/**
 * Signing a profile's user in (issue 18), in one sequence the CLI and the UI share: the stored
 * refresh token first (no user needed), else the interactive sign-in (device code or browser),
 * then the gateway's exchange for a tunnel credential. The result is the credential that renews
 * itself while the connection runs, and the refresh token to store (the keychain or the secrets
 * file, never a plain file; the caller stores it).
 */
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { SignIn } from '../../shared/profile.js';
import { exchangeForCredential, type ExchangedCredential, type GatewayConnectOptions } from './credential-exchange.js';
import { IssuerClient, type InteractiveSignIn, type IssuerTokens } from './issuer-client.js';
import { SignedInCredential } from './signed-in-credential.js';

export interface SignInRequest {
  readonly signIn: SignIn;
  readonly gateway: GatewayConnectOptions;
  /** The refresh token stored by an earlier sign-in. */
  readonly refreshToken?: string | undefined;
  /** How to ask the user; absent: only the stored refresh token may be used (PINHOLE_SIGNIN_REQUIRED otherwise). */
  readonly interactive?: InteractiveSignIn;
  readonly logger: Logger;
}

export interface SignedIn {
  readonly first: ExchangedCredential;
  /** To store; absent when the provider gave none. */
  readonly refreshToken: string | undefined;
  readonly issuer: IssuerClient;
}

const tokensFor = async (issuer: IssuerClient, request: SignInRequest): Promise<IssuerTokens> => {
  if (request.refreshToken !== undefined && request.refreshToken !== '') {
    try {
      return await issuer.refresh(request.refreshToken);
    } catch (err) {
      if (!(err instanceof PinholeError) || err.code !== 'PINHOLE_SIGNIN_REQUIRED' || request.interactive === undefined) throw err;
      request.logger.info({ issuer: issuer.issuer }, 'The stored sign-in ended at the identity provider; signing in again.');
    }
  }
  if (request.interactive === undefined) throw new PinholeError('PINHOLE_SIGNIN_REQUIRED');
  return issuer.signInInteractively(request.interactive);
};

/** Signs in (refresh token, else interactively) and exchanges the token at the gateway. */
export async function signInAtGateway(request: SignInRequest): Promise<SignedIn> {
  const issuer = new IssuerClient(request.signIn);
  const tokens = await tokensFor(issuer, request);
  const first = await exchangeForCredential(request.gateway, tokens.token);
  request.logger.info({ user: first.user, issuer: request.signIn.issuer, validForS: Math.round(first.lifetimeMs / 1000) }, 'Signed in with the identity provider; the gateway issued a tunnel credential.');
  return { first, refreshToken: tokens.refreshToken, issuer };
}

/** The signed-in credential for a connection: renews through the same provider and gateway, storing rotated refresh tokens. */
export const credentialFor = (
  signedIn: SignedIn,
  request: Pick<SignInRequest, 'gateway' | 'logger'> & { saveRefreshToken: (token: string) => Promise<void>; loadRefreshToken?: () => Promise<string | undefined>; renewAt?: number },
): SignedInCredential =>
  new SignedInCredential(signedIn.first, signedIn.refreshToken, {
    refresh: (token) => signedIn.issuer.refresh(token),
    exchange: (token) => exchangeForCredential(request.gateway, token),
    saveRefreshToken: request.saveRefreshToken,
    ...(request.loadRefreshToken === undefined ? {} : { loadRefreshToken: request.loadRefreshToken }),
    logger: request.logger,
    ...(request.renewAt === undefined ? {} : { renewAt: request.renewAt }),
  });
