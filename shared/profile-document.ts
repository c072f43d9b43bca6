/**
 * The profile a gateway serves to an authenticated user, so a profile refreshes itself (Outline's
 * dynamic access keys, Clash's subscriptions): the operator adds an endpoint or rotates the
 * certificate on the gateway, and clients learn it at their next refresh instead of needing a new
 * link. One schema for the gateway that writes it and the client that validates it. It is served
 * only inside the pinned TLS connection (the gateway speaks nothing else to clients), so its
 * authenticity is the connection's. Unknown fields are dropped, so newer gateways may add some.
 */
import { z } from 'zod';
import { EndpointSchema, PinSchema, SignInSchema, TransportSchema } from './profile.js';

/** Where the gateway serves the document (GET, Basic credentials of the user). */
export const PROFILE_DOCUMENT_PATH = '/.well-known/pinhole/profile';
export const PROFILE_DOCUMENT_VERSION = 1;
export const PROFILE_DOCUMENT_MAX_BYTES = 64 * 1024;
export const PROFILE_DOCUMENT_TYPE = 'application/json; charset=utf-8';

export const ProfileDocumentSchema = z.object({
  version: z.literal(PROFILE_DOCUMENT_VERSION),
  /** The user this document is for (a client checks it is its own). */
  user: z.string().min(1),
  /** The gateway's TLS name: SNI and certificate check. */
  serverName: z.string().min(1),
  /** Where clients connect, the operator's preferred first. */
  endpoints: z.array(EndpointSchema).min(1).max(32),
  /**
   * Certificate SHA-256 pins a client accepts: the certificate in use first, then the next one
   * (published before a rotation, so clients accept it the moment it goes live). Empty when the
   * gateway's certificate is CA-issued and verified by name.
   */
  pins: z.array(PinSchema).max(4).default([]),
  transport: TransportSchema,
  wsPath: z.string().startsWith('/').optional(),
  /** Domains that go through the tunnel; empty means everything does. */
  domains: z.array(z.string().min(1)).default([]),
  /** The identity provider users of this gateway sign in with (issue 18); never a secret. */
  signIn: SignInSchema.optional(),
  /** How often the gateway suggests refreshing. */
  refreshSeconds: z.number().int().min(60).max(7 * 86_400).default(6 * 3_600),
});

export type ProfileDocument = z.output<typeof ProfileDocumentSchema>;
export type ProfileDocumentInput = z.input<typeof ProfileDocumentSchema>;
