/**
 * What a connection to a gateway needs, as one schema used by the link codec, the profile store,
 * the CLI and the UI contract. Secrets never live in a Profile: only `secretRef` does.
 */
import { z } from 'zod';

export const TRANSPORTS = ['h2', 'h1', 'wss'] as const;
export const TransportSchema = z.enum(TRANSPORTS);
export type Transport = z.infer<typeof TransportSchema>;

const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/;

/** "host:port" or "[v6]:port". */
export const EndpointSchema = z.string().refine((value) => parseEndpoint(value) !== undefined, {
  message: 'must be HOST:PORT, with a port from 1 to 65535',
});

export interface Endpoint {
  host: string;
  port: number;
}

export const parseEndpoint = (value: string): Endpoint | undefined => {
  const idx = value.lastIndexOf(':');
  if (idx <= 0) return undefined;
  const host = value.slice(0, idx);
  const port = Number(value.slice(idx + 1));
  if (!HOST_RE.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
};

export const formatEndpoint = ({ host, port }: Endpoint): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** A certificate SHA-256 fingerprint: 64 hex digits, colons optional, any case. */
export const PinSchema = z
  .string()
  .transform((value) => value.replace(/[:\s]/g, '').toUpperCase())
  .refine((value) => /^[0-9A-F]{64}$/.test(value), { message: 'must be a SHA-256 fingerprint (64 hex digits)' });

/** Pretty form, as `openssl x509 -fingerprint -sha256` prints it. */
export const formatPin = (hex: string): string => hex.replace(/[:\s]/g, '').toUpperCase().match(/../g)?.join(':') ?? '';

export const TrustSchema = z.discriminatedUnion('kind', [
  /** `nextPins`: certificates the gateway announced (profile refresh) for its next rotation, accepted as well. */
  z.object({ kind: z.literal('pin'), pin: PinSchema, nextPins: z.array(PinSchema).optional() }),
  z.object({ kind: z.literal('ca'), caFile: z.string().min(1) }),
  z.object({ kind: z.literal('system') }),
  z.object({ kind: z.literal('insecure') }),
]);
export type Trust = z.infer<typeof TrustSchema>;

export const AppActionSchema = z.enum(['tunnel', 'direct', 'block']);
export type AppAction = z.infer<typeof AppActionSchema>;

export const UpstreamProxySchema = z.object({
  endpoint: EndpointSchema,
  user: z.string().optional(),
  /** Reference into the keychain; the upstream password is a secret too. */
  secretRef: z.string().optional(),
});

/** An identity provider's URL: https, or http on a loopback address (a provider on the same machine, tests). */
export const IssuerUrlSchema = z.string().refine(
  (v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'https:' || (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname));
    } catch {
      return false;
    }
  },
  { message: 'must be the https:// URL of the identity provider (its "issuer")' },
);

/** Scopes asked for when a link names none: an ID token with the e-mail, and a refresh token. */
export const DEFAULT_SIGN_IN_SCOPES = ['openid', 'email', 'profile', 'offline_access'] as const;

/**
 * Sign-in with the company's identity provider (issue 18) instead of a password: the client gets
 * a token from `issuer` as the public client `clientId` and exchanges it at the gateway for a
 * short-lived tunnel credential. Carries no secret.
 */
export const SignInSchema = z
  .object({
    issuer: IssuerUrlSchema,
    /** The public (no secret) client registered at the provider for Pinhole. */
    clientId: z.string().min(1).max(200),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be scope names without spaces')).min(1).max(20).optional(),
  })
  .strict();
export type SignIn = z.infer<typeof SignInSchema>;

/** Everything needed to reach one gateway except the password. */
export const GatewayTargetSchema = z.object({
  endpoints: z.array(EndpointSchema).min(1),
  /** The TLS name sent as SNI and verified: always the gateway's, never a destination's. */
  serverName: z.string().min(1),
  trust: TrustSchema,
  user: z.string().min(1),
  transport: TransportSchema.default('h2'),
  /** WebSocket tunnel path on the gateway, for transport wss. */
  wsPath: z.string().startsWith('/').default('/pinhole/ws'),
  /** Domains that must go through the tunnel; empty means everything does. */
  domains: z.array(z.string().min(1)).default([]),
  /** Present: tunnels authenticate with a credential from this sign-in, not a password (`user` is who signed in). */
  signIn: SignInSchema.optional(),
});
export type GatewayTarget = z.infer<typeof GatewayTargetSchema>;

export const ProfileSchema = GatewayTargetSchema.extend({
  id: z.string().min(1),
  name: z.string().min(1).max(100),
  /** Keychain account under the service "pinhole" that holds the password (or, with `signIn`, the refresh token). */
  secretRef: z.string().min(1),
  upstreamProxy: UpstreamProxySchema.optional(),
  appRules: z.record(z.string(), AppActionSchema).default({}),
  defaultAppAction: AppActionSchema.default('tunnel'),
  createdAt: z.string().optional(),
  /** Provided by the administrator's managed configuration (shared/managed.ts): shown locked, never stored or removed. */
  managed: z.boolean().optional(),
  /** The identity provider to sign in with (a managed profile's issuer). */
  issuer: z.string().optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;
