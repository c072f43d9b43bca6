/**
 * Talking to the company's identity provider as Pinhole's public client (issue 18), through
 * oauth4webapi: discovery, the device authorization grant (RFC 8628: a code the user types at a
 * verification page), the authorization code grant with PKCE through the system browser and a
 * loopback redirect (RFC 8252) where the provider has no device endpoint, and the refresh grant.
 * What comes back is the token the gateway exchanges (the ID token, else the access token) and the
 * refresh token to keep. Every failure is a PinholeError: the provider unreachable, the code
 * expired or replayed, the sign-in declined, the refresh token no longer accepted.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import { PinholeError } from '../../shared/errors.js';
import { DEFAULT_SIGN_IN_SCOPES, type SignIn } from '../../shared/profile.js';
import { LISTENER_OPTIONS } from '../../node/socket-options.js';

/** What the user must do to sign in with the device grant: shown in the terminal and on the Home page. */
export interface DevicePrompt {
  readonly userCode: string;
  readonly verificationUri: string;
  readonly verificationUriComplete?: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

export interface IssuerTokens {
  /** What the gateway's exchange takes: the ID token when there is one, else the access token. */
  readonly token: string;
  /** Absent when the provider gave none (no offline_access): the next renewal then needs a new sign-in. */
  readonly refreshToken?: string;
}

export interface InteractiveSignIn {
  /** The device grant's code and page: print them, show them. */
  onDevicePrompt?: (prompt: DevicePrompt) => void;
  /** The browser flow: open this URL in the system browser. */
  openBrowser?: (url: string) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Budget for one request to the provider. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Clock difference tolerated when checking the ID token's times (the provider's clock against ours). */
const CLOCK_TOLERANCE_S = 300;
/** How long the browser flow waits for the redirect back. */
const BROWSER_WAIT_MS = 10 * 60_000;

const unreachable = (issuer: string, cause: unknown): PinholeError =>
  new PinholeError('PINHOLE_SIGNIN_ISSUER_UNREACHABLE', `The identity provider ${issuer} could not be reached, so you cannot sign in now; try again in a moment (a tunnel credential you already have keeps working until it expires).`, { cause, details: { issuer } });

/** A network failure, a timeout or a provider's 5xx: "unreachable", never "refused". */
const isUnreachable = (err: unknown): boolean =>
  err instanceof TypeError ||
  (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) ||
  (err instanceof oauth.ResponseBodyError && err.status >= 500) ||
  (err instanceof oauth.OperationProcessingError && err.code === oauth.RESPONSE_IS_NOT_CONFORM);

/** The provider's refusal as ours. */
const refusal = (err: unknown, issuer: string, during: 'device' | 'browser' | 'refresh'): PinholeError => {
  if (err instanceof PinholeError) return err;
  if (isUnreachable(err)) return unreachable(issuer, err);
  const code = err instanceof oauth.ResponseBodyError || err instanceof oauth.AuthorizationResponseError ? err.error : undefined;
  const details = { issuer, ...(code === undefined ? {} : { error: code }) };
  if (code === 'expired_token') return new PinholeError('PINHOLE_SIGNIN_CODE_EXPIRED', undefined, { cause: err, details });
  if (code === 'access_denied') return new PinholeError('PINHOLE_SIGNIN_DENIED', undefined, { cause: err, details });
  // A device code used twice or no longer known: the code is spent, a new sign-in gives a new one.
  if (code === 'invalid_grant' && during === 'device') {
    return new PinholeError('PINHOLE_SIGNIN_CODE_EXPIRED', 'The sign-in code was already used or is no longer valid; sign in again for a new code.', { cause: err, details });
  }
  if (code === 'invalid_grant' && during === 'refresh') {
    return new PinholeError('PINHOLE_SIGNIN_REQUIRED', 'Your sign-in at the identity provider ended (it was revoked or expired); sign in again.', { cause: err, details });
  }
  if (err instanceof oauth.OperationProcessingError && err.code === oauth.JWT_TIMESTAMP_CHECK) {
    return new PinholeError('PINHOLE_SIGNIN_FAILED', "The identity provider's token is dated far from this computer's clock; set the clock right (automatic time) and sign in again.", { cause: err, details });
  }
  const why = err instanceof oauth.ResponseBodyError ? `: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}` : err instanceof Error ? `: ${err.message}` : '';
  return new PinholeError('PINHOLE_SIGNIN_FAILED', `The identity provider refused the sign-in${why}.`, { cause: err, details });
};

const tokensOf = (response: oauth.TokenEndpointResponse): IssuerTokens => {
  const token = response.id_token ?? response.access_token;
  return { token, ...(response.refresh_token === undefined ? {} : { refreshToken: response.refresh_token }) };
};

const abortable = (ms: number, signal?: AbortSignal): AbortSignal => (signal ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms));

/** Waits `ms`, or rejects when `signal` aborts. */
const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new PinholeError('PINHOLE_SIGNIN_FAILED', 'The sign-in was cancelled.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** One identity provider, as the public client `signIn.clientId`. */
export class IssuerClient {
  private server: Promise<oauth.AuthorizationServer> | undefined;
  private readonly client: oauth.Client;
  private readonly auth = oauth.None();
  private readonly insecureOk: boolean;

  constructor(private readonly signIn: SignIn) {
    this.client = { client_id: signIn.clientId, [oauth.clockTolerance]: CLOCK_TOLERANCE_S };
    // http is accepted by the link schema only on a loopback address.
    this.insecureOk = new URL(signIn.issuer).protocol === 'http:';
  }

  get issuer(): string {
    return this.signIn.issuer;
  }

  private get scopes(): string {
    return (this.signIn.scopes ?? DEFAULT_SIGN_IN_SCOPES).join(' ');
  }

  private options(signal?: AbortSignal): { signal: AbortSignal; [oauth.allowInsecureRequests]: boolean } {
    return { signal: abortable(REQUEST_TIMEOUT_MS, signal), [oauth.allowInsecureRequests]: this.insecureOk };
  }

  /** The provider's metadata (discovery), fetched once per client; a failed fetch is tried again next time. */
  private metadata(signal?: AbortSignal): Promise<oauth.AuthorizationServer> {
    this.server ??= (async () => {
      const url = new URL(this.signIn.issuer);
      try {
        return await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { ...this.options(signal), algorithm: 'oidc' }));
      } catch (err) {
        throw refusal(err, this.signIn.issuer, 'refresh');
      }
    })();
    this.server.catch(() => (this.server = undefined));
    return this.server;
  }

  /** Signs the user in: the device grant where the provider offers it, else the browser with a loopback redirect. */
  async signInInteractively(how: InteractiveSignIn): Promise<IssuerTokens> {
    const as = await this.metadata(how.signal);
    if (as.device_authorization_endpoint !== undefined) return this.deviceSignIn(as, how);
    if (how.openBrowser === undefined) throw new PinholeError('PINHOLE_SIGNIN_FAILED', `The identity provider ${this.signIn.issuer} offers no device sign-in, and no browser can be opened here.`);
    return this.browserSignIn(as, how.openBrowser, how.signal);
  }

  /** RFC 8628: ask for a code, show it, poll the token endpoint at the provider's pace until the user confirmed it. */
  private async deviceSignIn(as: oauth.AuthorizationServer, how: InteractiveSignIn): Promise<IssuerTokens> {
    const issuer = this.signIn.issuer;
    let device: oauth.DeviceAuthorizationResponse;
    try {
      device = await oauth.processDeviceAuthorizationResponse(as, this.client, await oauth.deviceAuthorizationRequest(as, this.client, this.auth, { scope: this.scopes }, this.options(how.signal)));
    } catch (err) {
      throw refusal(err, issuer, 'device');
    }
    how.onDevicePrompt?.({
      userCode: device.user_code,
      verificationUri: device.verification_uri,
      ...(device.verification_uri_complete === undefined ? {} : { verificationUriComplete: device.verification_uri_complete }),
      expiresAt: Date.now() + device.expires_in * 1000,
    });
    let interval = (device.interval ?? 5) * 1000;
    for (;;) {
      await pause(interval, how.signal);
      try {
        const response = await oauth.deviceCodeGrantRequest(as, this.client, this.auth, device.device_code, this.options(how.signal));
        return tokensOf(await oauth.processDeviceCodeResponse(as, this.client, response));
      } catch (err) {
        if (err instanceof oauth.ResponseBodyError && err.error === 'authorization_pending') continue;
        // RFC 8628 3.5: slow down by 5 s for this and every later poll.
        if (err instanceof oauth.ResponseBodyError && err.error === 'slow_down') {
          interval += 5_000;
          continue;
        }
        throw refusal(err, issuer, 'device');
      }
    }
  }

  /** RFC 8252 with PKCE: the system browser signs in, the provider redirects to a one-shot listener on 127.0.0.1. */
  private async browserSignIn(as: oauth.AuthorizationServer, openBrowser: (url: string) => void | Promise<void>, signal?: AbortSignal): Promise<IssuerTokens> {
    const issuer = this.signIn.issuer;
    if (as.authorization_endpoint === undefined) throw new PinholeError('PINHOLE_SIGNIN_FAILED', `The identity provider ${issuer} offers neither device nor browser sign-in.`);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const listener = await LoopbackRedirect.start();
    try {
      const url = new URL(as.authorization_endpoint);
      url.search = new URLSearchParams({
        client_id: this.signIn.clientId,
        response_type: 'code',
        redirect_uri: listener.redirectUri,
        scope: this.scopes,
        state,
        nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      await openBrowser(url.href);
      const callback = await listener.next(abortable(BROWSER_WAIT_MS, signal));
      const params = oauth.validateAuthResponse(as, this.client, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(as, this.client, this.auth, params, listener.redirectUri, verifier, this.options(signal));
      return tokensOf(await oauth.processAuthorizationCodeResponse(as, this.client, response, { expectedNonce: nonce }));
    } catch (err) {
      if (err instanceof DOMException && err.name === 'TimeoutError') throw new PinholeError('PINHOLE_SIGNIN_CODE_EXPIRED', 'The browser sign-in was not finished in time; sign in again.', { cause: err });
      throw refusal(err, issuer, 'browser');
    } finally {
      await listener.close();
    }
  }

  /** A fresh token from the refresh token, without the user; PINHOLE_SIGNIN_REQUIRED when the provider no longer accepts it. */
  async refresh(refreshToken: string, signal?: AbortSignal): Promise<IssuerTokens> {
    const as = await this.metadata(signal);
    try {
      const response = await oauth.refreshTokenGrantRequest(as, this.client, this.auth, refreshToken, this.options(signal));
      const tokens = tokensOf(await oauth.processRefreshTokenResponse(as, this.client, response));
      // Providers that do not rotate refresh tokens answer without one: the old one stays good.
      return { token: tokens.token, refreshToken: tokens.refreshToken ?? refreshToken };
    } catch (err) {
      throw refusal(err, this.signIn.issuer, 'refresh');
    }
  }
}

const CALLBACK_PATH = '/pinhole/signed-in';
const DONE_PAGE = '<!doctype html><meta charset="utf-8"><title>Pinhole</title><p>Signed in to Pinhole. You can close this window.</p>\n';

/** RFC 8252 7.3: an HTTP listener on 127.0.0.1, any port, for the one redirect that ends a browser sign-in. */
class LoopbackRedirect {
  private waiting: ((url: URL) => void) | undefined;

  private constructor(
    private readonly server: Server,
    readonly redirectUri: string,
  ) {
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', redirectUri);
      if (url.pathname !== CALLBACK_PATH || this.waiting === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(DONE_PAGE);
      const deliver = this.waiting;
      this.waiting = undefined;
      deliver(url);
    });
  }

  static async start(): Promise<LoopbackRedirect> {
    const server = createServer(LISTENER_OPTIONS);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new LoopbackRedirect(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}${CALLBACK_PATH}`);
  }

  next(signal: AbortSignal): Promise<URL> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting = (url) => {
        signal.removeEventListener('abort', onAbort);
        resolve(url);
      };
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
