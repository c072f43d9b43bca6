/**
 * Signing a profile's user in (issue 18), in one sequence the CLI and the UI share: the stored
 * refresh token first (no user needed), else the interactive sign-in (device code or browser),
 * then the gateway's exchange for a tunnel credential. The result is the credential that renews
 * itself while the connection runs, and the refresh token to store (the keychain or the secrets
 * file, never a plain file; the caller stores it).
 */
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { parseEndpoint, type GatewayTarget, type SignIn } from '../../shared/profile.js';
import type { UpstreamProxy } from '../tunnel/transport.js';
import { exchangeForCredential, type ExchangedCredential, type GatewayConnectOptions } from './credential-exchange.js';
import { IssuerClient, type DevicePrompt, type InteractiveSignIn, type IssuerTokens } from './issuer-client.js';
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

export interface ConnectionSignInRequest {
  /** A target with `signIn`. */
  readonly target: GatewayTarget;
  readonly logger: Logger;
  readonly upstreamProxy?: UpstreamProxy | undefined;
  /** The stored refresh token, where a rotated one goes, and how to read the latest before each renewal. */
  readonly refreshToken?: string | undefined;
  readonly saveRefreshToken?: (token: string) => Promise<void>;
  readonly loadRefreshToken?: () => Promise<string | undefined>;
  /** Shows the device code while the user is asked (the engine's state, so every UI shows it); undefined clears it. */
  readonly showPrompt: (prompt: DevicePrompt | undefined) => void;
  /** Opens the system browser, for providers without device sign-in. */
  readonly openBrowser?: (url: string) => void | Promise<void>;
}

/**
 * A connection's credential (issue 18), for the command line and the app alike: signs in (the
 * stored refresh token, else the device code: logged as a sentence with `userCode` and
 * `verificationUri`, and shown through `showPrompt`), stores a rotated refresh token, and gives
 * the credential that renews itself while the connection runs.
 */
export async function signInForConnection(request: ConnectionSignInRequest): Promise<SignedInCredential> {
  const { target, logger } = request;
  if (target.signIn === undefined) throw new PinholeError('PINHOLE_INTERNAL');
  const endpoints = target.endpoints.map((e) => parseEndpoint(e)).filter((e): e is NonNullable<typeof e> => e !== undefined);
  const gateway: GatewayConnectOptions = { endpoints, serverName: target.serverName, trust: target.trust, logger, ...(request.upstreamProxy ? { upstreamProxy: request.upstreamProxy } : {}) };
  const interactive: InteractiveSignIn = {
    onDevicePrompt: (prompt) => {
      request.showPrompt(prompt);
      logger.warn({ userCode: prompt.userCode, verificationUri: prompt.verificationUri, verificationUriComplete: prompt.verificationUriComplete }, devicePromptSentence(prompt));
    },
    openBrowser: async (url) => {
      logger.warn({ url }, 'Signing in through your browser; if it does not open, open the URL logged here.');
      await request.openBrowser?.(url);
    },
  };
  let signedIn: SignedIn;
  try {
    signedIn = await signInAtGateway({ signIn: target.signIn, gateway, refreshToken: request.refreshToken, interactive, logger });
  } finally {
    request.showPrompt(undefined);
  }
  const save = request.saveRefreshToken ?? (async () => undefined);
  if (signedIn.refreshToken !== undefined && signedIn.refreshToken !== request.refreshToken) await save(signedIn.refreshToken);
  return credentialFor(signedIn, { gateway, logger, saveRefreshToken: save, ...(request.loadRefreshToken === undefined ? {} : { loadRefreshToken: request.loadRefreshToken }) });
}

/** The sentence a person reads to sign in with a device code (the terminal, the log). */
export const devicePromptSentence = (prompt: DevicePrompt, now = Date.now()): string =>
  `To sign in, open ${prompt.verificationUri} and enter the code ${prompt.userCode} (valid for ${Math.max(1, Math.round((prompt.expiresAt - now) / 60_000))} min)${prompt.verificationUriComplete ? `, or open ${prompt.verificationUriComplete}` : ''}.`;

/**
 * A sign-in link's import (issue 18): signs in now, interactively, so the profile stores who
 * signed in and the refresh token (the caller puts it in the keychain or the secrets file).
 */
export async function signInForImport(
  target: GatewayTarget,
  how: { logger: Logger; onDevicePrompt: (prompt: DevicePrompt | undefined) => void; openBrowser?: (url: string) => void | Promise<void> },
): Promise<{ user: string; refreshToken: string }> {
  if (target.signIn === undefined) throw new PinholeError('PINHOLE_LINK_INVALID');
  const endpoints = target.endpoints.map((e) => parseEndpoint(e)).filter((e): e is NonNullable<typeof e> => e !== undefined);
  let signedIn: SignedIn;
  try {
    signedIn = await signInAtGateway({
      signIn: target.signIn,
      gateway: { endpoints, serverName: target.serverName, trust: target.trust, logger: how.logger },
      interactive: { onDevicePrompt: how.onDevicePrompt, ...(how.openBrowser === undefined ? {} : { openBrowser: how.openBrowser }) },
      logger: how.logger,
    });
  } finally {
    how.onDevicePrompt(undefined);
  }
  if (signedIn.refreshToken === undefined) {
    throw new PinholeError('PINHOLE_SIGNIN_FAILED', "The identity provider gave no refresh token, so Pinhole could not stay signed in; the link's scopes need offline_access (ask your administrator).");
  }
  return { user: signedIn.first.user, refreshToken: signedIn.refreshToken };
}
