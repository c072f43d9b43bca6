/**
 * Provisioning links: `pinhole://v1/<base64url JSON>.<crc32>`.
 * The checksum lets a decoder say "the link was cut off" instead of "malformed", which is the
 * usual way a link breaks (a chat client or an e-mail wraps it). Pure: no Node, no DOM beyond
 * atob/btoa/TextEncoder, which both have.
 */
import { z } from 'zod';
import { crc32 } from './crc32.js';
import { PinholeError } from './errors.js';
import { EndpointSchema, PinSchema, SignInSchema, TransportSchema } from './profile.js';

export const LINK_SCHEME = 'pinhole://';
export const LINK_VERSION = 1;

const LinkFieldsSchema = z.object({
  /** Suggested profile name. */
  name: z.string().min(1).max(100).optional(),
  /** Where clients connect (first is preferred). */
  endpoints: z.array(EndpointSchema).min(1),
  /** The gateway's TLS name (SNI and certificate check). */
  serverName: z.string().min(1),
  /** SHA-256 of the gateway certificate; absent means "trust the OS store". */
  pin: PinSchema.optional(),
  /** A password link: the user and their password. */
  user: z.string().min(1).optional(),
  secret: z.string().min(1).optional(),
  /** A sign-in link (issue 18): the identity provider to sign in with; no secret in the link. */
  signIn: SignInSchema.optional(),
  transport: TransportSchema.default('h2'),
  wsPath: z.string().startsWith('/').optional(),
  /** Domains that must go through the tunnel (the vendor's FQDNs); absent means all. */
  domains: z.array(z.string().min(1)).optional(),
});

/** Either a password (user and secret) or a sign-in, never both: a sign-in link must carry no secret. */
export const LinkPayloadSchema = LinkFieldsSchema.superRefine((link, ctx) => {
  if (link.signIn !== undefined) {
    if (link.secret !== undefined) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'must not be there: a sign-in link carries no password' });
    return;
  }
  if (link.user === undefined) ctx.addIssue({ code: 'custom', path: ['user'], message: 'is missing (a link needs user and secret, or signIn with the identity provider)' });
  if (link.secret === undefined) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'is missing (a link needs user and secret, or signIn with the identity provider)' });
});
export type LinkPayload = z.infer<typeof LinkPayloadSchema>;
export type LinkPayloadInput = z.input<typeof LinkPayloadSchema>;

const toBase64Url = (bytes: Uint8Array): string => {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

const fromBase64Url = (text: string): Uint8Array | undefined => {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
};

const checksumOf = (payload: string): string => crc32(new TextEncoder().encode(payload)).toString(36).padStart(7, '0');

export const encodeLink = (input: LinkPayloadInput): string => {
  const payload = LinkPayloadSchema.parse(input);
  const body = toBase64Url(new TextEncoder().encode(JSON.stringify(payload)));
  return `${LINK_SCHEME}v${LINK_VERSION}/${body}.${checksumOf(body)}`;
};

const invalid = (why: string): PinholeError => new PinholeError('PINHOLE_LINK_INVALID', `This is not a valid Pinhole link: ${why}.`);
const truncated = (): PinholeError =>
  new PinholeError('PINHOLE_LINK_TRUNCATED', 'The link was cut off or changed; copy the whole link again.');

/** Decodes a link pasted by a person: tolerant of surrounding space, quotes and angle brackets. */
export const decodeLink = (raw: string): LinkPayload => {
  const text = raw.trim().replace(/^[<"']+|[>"']+$/g, '').replace(/\s+/g, '');
  if (text.length === 0) throw invalid('it is empty');
  if (!text.toLowerCase().startsWith(LINK_SCHEME)) throw invalid('it should start with pinhole://');
  const rest = text.slice(LINK_SCHEME.length);
  const slash = rest.indexOf('/');
  const versionText = slash === -1 ? rest : rest.slice(0, slash);
  const versionMatch = /^v(\d+)$/i.exec(versionText);
  if (!versionMatch) {
    if (slash === -1 && /^v?\d*$/i.test(versionText)) throw truncated();
    throw invalid('the version part is missing');
  }
  const version = Number(versionMatch[1]);
  if (version !== LINK_VERSION) {
    throw new PinholeError(
      'PINHOLE_LINK_VERSION',
      `Unknown link version ${version}: this Pinhole reads version ${LINK_VERSION}; update Pinhole to use this link.`,
    );
  }
  if (slash === -1) throw truncated();
  const encoded = rest.slice(slash + 1);
  const dot = encoded.lastIndexOf('.');
  if (dot === -1) throw truncated();
  const body = encoded.slice(0, dot);
  const check = encoded.slice(dot + 1);
  if (check.length < 7 || checksumOf(body) !== check.toLowerCase()) throw truncated();
  const bytes = fromBase64Url(body);
  if (!bytes) throw invalid('its data is not base64url');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw invalid('its data is not JSON');
  }
  const parsed = LinkPayloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'data';
    throw invalid(`${where} ${issue?.message ?? 'is wrong'}`);
  }
  return parsed.data;
};

/** A link is recognised on paste before it is decoded. */
export const looksLikeLink = (text: string): boolean => text.trim().toLowerCase().startsWith(LINK_SCHEME);
