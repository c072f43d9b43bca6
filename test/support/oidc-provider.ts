/**
 * A real OpenID provider (`oidc-provider`) on 127.0.0.1, port 0, with its own signing key made
 * here, so a test can also sign tokens the provider would (expired ones) and tell forged ones
 * apart. Each user is a client of the client_credentials grant whose JWT access token (audience
 * `audience`) carries the user's e-mail and groups, the way an IdP's API access token does.
 * Free of test-framework imports so bench/ can use it too.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface IdpUser {
  /** The client ID; it is the token's `sub`. */
  readonly id: string;
  readonly email?: string;
  readonly groups?: readonly string[];
}

/** Pinhole's public client at this provider (issue 18's client side): device flow, refresh tokens, code + PKCE on a loopback redirect. */
export const SIGN_IN_CLIENT_ID = 'pinhole-desktop';
const SIGN_IN_SCOPE = 'openid email offline_access';

export interface IdpOptions {
  /** The provider offers the device authorization endpoint (default true); false leaves only the browser flow. */
  deviceFlow?: boolean;
  /** Seconds an ID token lives (default 600). */
  idTokenTtl?: number;
  /** Seconds a device code lives (default 600). */
  deviceCodeTtl?: number;
}

export interface RunningIdp {
  readonly issuer: string;
  readonly audience: string;
  /** A fresh access token for `user` from the token endpoint (client_credentials). */
  token: (user: IdpUser) => Promise<string>;
  /** A token signed with the provider's own key, with the claims given (e.g. an `exp` in the past). */
  sign: (claims: Record<string, unknown>) => Promise<string>;
  /** Plays the user at the verification page: `user` confirms `userCode` (false: the code is unknown or expired). */
  approve: (userCode: string, user: IdpUser) => Promise<boolean>;
  /** The user declines at the verification page. */
  deny: (userCode: string) => Promise<boolean>;
  /** Plays the user in the browser flow: follows the authorization URL as `user` and delivers the redirect to the client's loopback listener. */
  browse: (authorizationUrl: string, user: IdpUser) => Promise<void>;
  /** Ends every grant of `user` at the provider (their refresh tokens stop working). */
  endGrants: (user: IdpUser) => Promise<void>;
  close: () => Promise<void>;
}

const SECRET = 'test-client-secret-0123456789abcdef';

export const startIdp = async (users: readonly IdpUser[], audience = 'urn:pinhole:gateway', options: IdpOptions = {}): Promise<RunningIdp> => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const byId = new Map(users.map((u) => [u.id, u]));
  const grants = new Map<string, string[]>();
  const provider = new Provider(issuer, {
    clients: [
      ...users.map((u) => ({ client_id: u.id, client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] })),
      {
        client_id: SIGN_IN_CLIENT_ID,
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        grant_types: ['authorization_code', 'refresh_token', ...(options.deviceFlow === false ? [] : ['urn:ietf:params:oauth:grant-type:device_code'])],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/pinhole/signed-in'],
      },
    ],
    jwks: { keys: [jwk] },
    ttl: { ClientCredentials: 600, IdToken: options.idTokenTtl ?? 600, DeviceCode: options.deviceCodeTtl ?? 600, Session: 3600, Interaction: 600, Grant: 3600, RefreshToken: 3600, AuthorizationCode: 60 },
    scopes: ['openid', 'email', 'offline_access'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    findAccount: (_ctx: unknown, id: string) => {
      const user = byId.get(id);
      return user === undefined ? undefined : { accountId: id, claims: () => ({ sub: id, ...(user.email === undefined ? {} : { email: user.email, email_verified: true }) }) };
    },
    // Every grant of the sign-in client carries offline_access, so refresh tokens are issued for the browser flow too.
    issueRefreshToken: () => true,
    // ID tokens carry the e-mail as Keycloak, Entra ID, Google and Okta put it there (not only at userinfo).
    conformIdTokenClaims: false,
    features: {
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: options.deviceFlow !== false },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'tunnel', audience, accessTokenFormat: 'jwt', accessTokenTTL: 600 }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => {
      const user = byId.get(String(token.clientId));
      return { ...(user?.email === undefined ? {} : { email: user.email, email_verified: true }), ...(user?.groups === undefined ? {} : { groups: [...user.groups] }) };
    },
  });
  // The sign-in page (set below, once the grants it makes can be): interactions are the test's, not oidc-provider's dev pages.
  const interactions: { finish?: (req: IncomingMessage, res: ServerResponse) => Promise<void> } = {};
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url?.startsWith('/interaction/') === true && interactions.finish !== undefined) {
      interactions.finish(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    callback(req, res);
  });
  const token = async (user: IdpUser): Promise<string> => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${user.id}:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'tunnel', resource: audience }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!res.ok || body.access_token === undefined) throw new Error(`the provider gave no token (${res.status}): ${JSON.stringify(body)}`);
    return body.access_token;
  };
  const sign = (claims: Record<string, unknown>): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'at+jwt' }).sign(privateKey);
  const grantFor = async (user: IdpUser): Promise<string> => {
    const grant = new provider.Grant({ accountId: user.id, clientId: SIGN_IN_CLIENT_ID });
    grant.addOIDCScope(SIGN_IN_SCOPE);
    grant.addOIDCClaims(['email', 'email_verified']);
    const grantId = await grant.save();
    grants.set(user.id, [...(grants.get(user.id) ?? []), grantId]);
    return grantId;
  };
  const approve = async (userCode: string, user: IdpUser): Promise<boolean> => {
    const code = await provider.DeviceCode.findByUserCode(userCode.toUpperCase().replace(/\W/g, ''));
    if (code === undefined) return false;
    Object.assign(code, { accountId: user.id, authTime: Math.floor(Date.now() / 1000), grantId: await grantFor(user), scope: SIGN_IN_SCOPE });
    await code.save();
    return true;
  };
  const deny = async (userCode: string): Promise<boolean> => {
    const code = await provider.DeviceCode.findByUserCode(userCode.toUpperCase().replace(/\W/g, ''));
    if (code === undefined) return false;
    Object.assign(code, { error: 'access_denied', errorDescription: 'the user declined' });
    await code.save();
    return true;
  };
  // The browser flow's sign-in page: the interaction a test plays as `pending` (the user who signs in next).
  let pending: IdpUser | undefined;
  interactions.finish = async (req, res) => {
    const details = await provider.interactionDetails(req, res);
    const user = pending ?? users[0];
    if (user === undefined) throw new Error('no user to sign in as');
    const result =
      details.prompt.name === 'login' ? { login: { accountId: user.id } } : { consent: { grantId: details.grantId ?? (await grantFor(user)) } };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  };
  const browse = async (authorizationUrl: string, user: IdpUser): Promise<void> => {
    pending = user;
    const cookies = new Map<string, string>();
    let url = authorizationUrl;
    for (let hop = 0; hop < 10; hop++) {
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const eq = pair?.indexOf('=') ?? -1;
        if (pair !== undefined && eq > 0) cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (location === null) throw new Error(`the sign-in stopped at ${url} (${res.status})`);
      url = new URL(location, url).href;
      if (url.startsWith('http://127.0.0.1') && new URL(url).pathname === '/pinhole/signed-in') {
        await (await fetch(url)).arrayBuffer();
        return;
      }
    }
    throw new Error('the sign-in redirected too often');
  };
  const endGrants = async (user: IdpUser): Promise<void> => {
    for (const id of grants.get(user.id) ?? []) await (await provider.Grant.find(id))?.destroy();
    grants.delete(user.id);
  };
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { issuer, audience, token, sign, approve, deny, browse, endGrants, close };
};
