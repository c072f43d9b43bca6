/**
 * The user's current profile, built from what the operator configured: the endpoints clients
 * should use (`run --endpoint HOST:PORT`, repeatable, or `endpoints:` in gateway.yaml), the
 * certificate's pin and the next certificate's pin (`nextCert:`, for a rotation announced before
 * it happens), and the profile defaults (transport, domains, WebSocket path, refresh interval).
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { ProfileDocumentSchema, PROFILE_DOCUMENT_VERSION, type ProfileDocument } from '../../shared/profile-document.js';
import { EndpointSchema, TransportSchema, type Transport } from '../../shared/profile.js';
import { fingerprintOf } from '../certs.js';
import { readCertificate } from '../tls-files.js';

/** The gateway.yaml fields that feed the document (to be merged into GatewayFileSchema). */
export const ProfileSettingsSchema = z.object({
  /** Where clients connect; `hostname:443` when empty (what `provision` puts in links). */
  endpoints: z.array(EndpointSchema).default([]),
  /** The next certificate (PEM), whose pin is published before it replaces `cert`. */
  nextCert: z.string().optional(),
  profile: z
    .object({
      transport: TransportSchema.default('h2'),
      domains: z.array(z.string().min(1)).default([]),
      wsPath: z.string().startsWith('/').optional(),
      refreshHours: z.number().min(1 / 60).max(168).default(6),
    })
    .strict()
    .default({ transport: 'h2', domains: [], refreshHours: 6 }),
});
export type ProfileSettings = z.output<typeof ProfileSettingsSchema>;

/** Everything the document is made of, already read from disk. */
export interface ProfileSource {
  serverName: string;
  endpoints: readonly string[];
  /** Pins in order: the certificate in use, then the next. Empty for a CA-issued certificate. */
  pins: readonly string[];
  transport: Transport;
  domains: readonly string[];
  wsPath?: string | undefined;
  refreshSeconds: number;
}

export interface ProfileSourceConfig {
  hostname: string;
  dir: string;
  certFile: string;
  operatorCert: boolean;
}

const readPin = (file: string, what: string): string => fingerprintOf(readCertificate(file, `the ${what}`));

/** Reads the certificates and merges the settings; call again after a certificate reload. */
export const loadProfileSource = (config: ProfileSourceConfig, settings: ProfileSettings): ProfileSource => {
  const at = (p: string): string => (isAbsolute(p) ? p : join(config.dir, p));
  const pins = config.operatorCert ? [] : [readPin(config.certFile, 'certificate'), ...(settings.nextCert === undefined ? [] : [readPin(at(settings.nextCert), 'next certificate')])];
  return {
    serverName: config.hostname,
    endpoints: settings.endpoints.length > 0 ? settings.endpoints : [`${config.hostname}:443`],
    pins: [...new Set(pins)],
    transport: settings.profile.transport,
    domains: settings.profile.domains,
    wsPath: settings.profile.wsPath,
    refreshSeconds: Math.round(settings.profile.refreshHours * 3_600),
  };
};

/** The document for one user; validated by the schema the client uses, so a bad config fails here first. */
export const buildProfileDocument = (source: ProfileSource, user: string): ProfileDocument =>
  ProfileDocumentSchema.parse({
    version: PROFILE_DOCUMENT_VERSION,
    user,
    serverName: source.serverName,
    endpoints: [...new Set(source.endpoints)],
    pins: [...source.pins],
    transport: source.transport,
    ...(source.wsPath === undefined ? {} : { wsPath: source.wsPath }),
    domains: [...source.domains],
    refreshSeconds: source.refreshSeconds,
  });

/** The document's exact bytes as served, and its strong ETag (a digest of those bytes). */
export const serializeProfileDocument = (document: ProfileDocument): { body: string; etag: string } => {
  const body = `${JSON.stringify(document)}\n`;
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"` };
};
