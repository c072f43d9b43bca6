/**
 * A real OpenID provider (`oidc-provider`) on 127.0.0.1, port 0, with its own signing key made
 * here, so a test can also sign tokens the provider would (expired ones) and tell forged ones
 * apart. Each user is a client of the client_credentials grant whose JWT access token (audience
 * `audience`) carries the user's e-mail and groups, the way an IdP's API access token does.
 * Free of test-framework imports so bench/ can use it too.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface IdpUser {
  /** The client ID; it is the token's `sub`. */
  readonly id: string;
  readonly email?: string;
  readonly groups?: readonly string[];
}

export interface RunningIdp {
  readonly issuer: string;
  readonly audience: string;
  /** A fresh access token for `user` from the token endpoint (client_credentials). */
  token: (user: IdpUser) => Promise<string>;
  /** A token signed with the provider's own key, with the claims given (e.g. an `exp` in the past). */
  sign: (claims: Record<string, unknown>) => Promise<string>;
  close: () => Promise<void>;
}

const SECRET = 'test-client-secret-0123456789abcdef';

export const startIdp = async (users: readonly IdpUser[], audience = 'urn:pinhole:gateway'): Promise<RunningIdp> => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const byId = new Map(users.map((u) => [u.id, u]));
  const provider = new Provider(issuer, {
    clients: users.map((u) => ({ client_id: u.id, client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] })),
    jwks: { keys: [jwk] },
    ttl: { ClientCredentials: 600 },
    features: {
      clientCredentials: { enabled: true },
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
  server.on('request', provider.callback());
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
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { issuer, audience, token, sign, close };
};
