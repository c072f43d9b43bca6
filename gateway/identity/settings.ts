/**
 * gateway.yaml's `identity:` block (issue 18): the identity providers whose tokens the gateway
 * exchanges for tunnel credentials, who among their users may, how long a credential lives, and
 * the fleet's credential-keys file (first key signs, every key verifies).
 */
import { z } from 'zod';
import { IssuerUrlSchema } from '../../shared/profile.js';

export const IssuerSettingsSchema = z
  .object({
    /** The provider's `iss`, exactly as its tokens and discovery document spell it. */
    issuer: IssuerUrlSchema,
    /** The `aud` its tokens must carry for this gateway (the client ID, or the API's identifier). */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Where its signing keys are; default: `jwks_uri` of `ISSUER/.well-known/openid-configuration`. */
    jwksUri: IssuerUrlSchema.optional(),
    /** Users must be in one of these groups (the `groupsClaim` claim), when set. */
    allowedGroups: z.array(z.string().min(1)).optional(),
    /** Users' verified e-mail must be in one of these domains, when set. */
    allowedDomains: z.array(z.string().min(1)).optional(),
    groupsClaim: z.string().min(1).default('groups'),
  })
  .strict();

export const IdentitySettingsSchema = z
  .object({
    issuers: z.array(IssuerSettingsSchema).min(1),
    /** How long a tunnel credential is valid, in seconds (default 12 h). */
    credentialLifetime: z.number().int().min(60).max(30 * 86_400).default(12 * 3600),
    /** The fleet's credential-keys file (`pinhole-gateway credential-keys rotate --file FILE`), relative to the directory. */
    credentialKeys: z.string().default('credential-keys'),
    /** Clock difference tolerated between the provider, the gateways and the client, in seconds. */
    clockSkew: z.number().int().min(0).max(300).default(30),
  })
  .strict();

export type IssuerSettings = z.output<typeof IssuerSettingsSchema>;
export type IdentitySettings = z.output<typeof IdentitySettingsSchema>;
