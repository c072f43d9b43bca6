/** gateway.yaml: the one schema for the file, merged with `run` flags. */
import { isAbsolute, join } from 'node:path';
import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { PinholeError } from '../shared/errors.js';
import { invalidFile, readStartupFile } from '../node/startup-files.js';
import { DEFAULT_HALF_CLOSE_TIMEOUT_SECONDS, DEFAULT_IDLE_TIMEOUT_SECONDS, TimeoutSecondsSchema } from '../shared/tunnel-timeouts.js';
import { EndpointSchema, parseEndpoint, type Endpoint } from '../shared/profile.js';
import type { PenaltySettings } from './auth/penalties.js';
import { IdentitySettingsSchema } from './identity/settings.js';
import { ProfileSettingsSchema } from './profile/profile-document.js';
import { TLS_PROFILES } from './tls-profile.js';
import { BYTE_PATHS } from '../node/native/byte-path-flag.js';

/** HOST:PORT where port 0 (any free port) is allowed too. */
export const parseListen = (text: string): Endpoint | undefined => {
  const zero = /^(.*):0$/.exec(text);
  if (zero?.[1] !== undefined) {
    const ep = parseEndpoint(`${zero[1]}:1`);
    return ep === undefined ? undefined : { host: ep.host, port: 0 };
  }
  return parseEndpoint(text);
};

export const ListenSchema = z.string().refine((v) => parseListen(v) !== undefined, { message: 'must be HOST:PORT (port 0 picks a free port)' });

export const GatewayFileSchema = z
  .object({
    hostname: z.string().min(1),
    listen: ListenSchema.default('0.0.0.0:443'),
    cert: z.string().default('cert.pem'),
    key: z.string().default('key.pem'),
    /** true when cert/key are the operator's own (CA-issued): links then carry no pin. */
    operatorCert: z.boolean().default(false),
    users: z.string().default('users.htpasswd'),
    allowPorts: z.array(z.number().int().min(1).max(65535)).default([443]),
    httpPorts: z.array(z.number().int().min(1).max(65535)).default([80, 443]),
    restrictTo: z.array(EndpointSchema).default([]),
    connectTimeoutMs: z.number().int().positive().default(10_000),
    /** UDP (issue 14): ports UDP flows may reach, and how long a flow may stay idle (wstunnel's --udpTimeoutSec). */
    allowUdpPorts: z.array(z.number().int().min(1).max(65535)).default([53, 443]),
    udpTimeoutSeconds: z.number().positive().max(86_400).default(30),
    headerTimeoutMs: z.number().int().positive().default(10_000),
    maxHeaderBytes: z.number().int().min(1024).default(16 * 1024),
    drainSeconds: z.number().min(0).default(10),
    /** The TLS offer (tls-profile.ts): Mozilla's "intermediate" (TLS 1.2 AEAD + 1.3) or "modern" (TLS 1.3 only). */
    tlsProfile: z.enum(TLS_PROFILES).default('intermediate'),
    /** Silent tunnels end (issue 28), in seconds, 0 = never: after one direction ended (HAProxy's timeout client-fin), and with no byte either way (timeout tunnel). */
    halfCloseTimeout: TimeoutSecondsSchema.default(DEFAULT_HALF_CLOSE_TIMEOUT_SECONDS),
    idleTimeout: TimeoutSecondsSchema.default(DEFAULT_IDLE_TIMEOUT_SECONDS),
    /** --byte-path (issue 27): pass-through routes relay with splice() on the native byte path where it loads (auto), or always in JavaScript (js). */
    bytePath: z.enum(BYTE_PATHS).default('auto'),
    /** Connections (accepted and dialled) before new requests get 503 (HAProxy's maxconn); default: the descriptor limit less a reserve. */
    maxConnections: z.number().int().min(1).optional(),
    /** Hostile clients (issue 9): penalties for wrong passwords, the check queue, limits. */
    authMaxFailures: z.number().int().min(1).default(10),
    authMaxSourceFailures: z.number().int().min(1).default(50),
    authDelayAfter: z.number().int().min(0).default(3),
    authDelaySeconds: z.number().min(0).max(60).default(0.25),
    authDelayMaxSeconds: z.number().min(0).max(60).default(4),
    authWindowSeconds: z.number().int().min(1).default(600),
    authBlockSeconds: z.number().int().min(1).default(60),
    authBlockMaxSeconds: z.number().int().min(1).default(3600),
    authNegativeCacheSeconds: z.number().min(0).default(60),
    authMaxPending: z.number().int().min(1).default(64),
    /** Password checks at once; default: one core left for the event loop (1 to 3). */
    authConcurrency: z.number().int().min(1).max(64).optional(),
    maxTunnelsPerUser: z.number().int().min(1).default(20_000),
    maxTunnelsPerSource: z.number().int().min(1).default(50_000),
    maxStreamsPerSession: z.number().int().min(1).max(2 ** 31 - 1).default(20_000),
    /** redis://HOST:PORT: penalties shared by every gateway using the same Redis. */
    state: z
      .string()
      .refine((v) => /^rediss?:\/\/[^/\s]+/.test(v), { message: 'must be redis://HOST:PORT (or rediss://)' })
      .optional(),
    /** The deadline of one Redis call: past it the gateway counts alone until Redis answers again. */
    stateTimeoutSeconds: z.number().min(0.01).max(10).default(0.25),
    mux: z.record(z.string(), z.unknown()).optional(),
    /** Sign-in with identity providers (issue 18): trusted issuers, credential lifetime, the fleet's credential keys. */
    identity: IdentitySettingsSchema.optional(),
    /** What clients are told in their profile document (endpoints, next certificate, profile defaults). */
    ...ProfileSettingsSchema.shape,
  })
  .strict();

export type GatewayFile = z.output<typeof GatewayFileSchema>;

export interface GatewayConfig extends GatewayFile {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly usersFile: string;
  /** `run --endpoint` values, added to the file's `endpoints` again whenever the file is reloaded. */
  readonly endpointFlags?: readonly string[];
}

export const configPath = (dir: string): string => join(dir, 'gateway.yaml');

/** The password-failure penalties gateway.yaml sets (auth/penalties.ts). */
export const penaltySettingsOf = (config: GatewayFile): PenaltySettings => ({
  maxFailures: config.authMaxFailures,
  maxSourceFailures: config.authMaxSourceFailures,
  delayAfter: config.authDelayAfter,
  delayMs: config.authDelaySeconds * 1000,
  delayMaxMs: config.authDelayMaxSeconds * 1000,
  windowSeconds: config.authWindowSeconds,
  blockSeconds: config.authBlockSeconds,
  blockMaxSeconds: config.authBlockMaxSeconds,
});

const WHAT = 'the gateway configuration';
const CONFIG = { code: 'PINHOLE_CONFIG_INVALID' } as const;

export function loadConfig(dir: string, overrides: Partial<GatewayFile> = {}): GatewayConfig {
  const file = configPath(dir);
  const text = readStartupFile(file, WHAT, `Run \`pinhole-gateway init --dir ${dir} --hostname NAME\` first.`).toString('utf8');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    throw invalidFile(file, WHAT, `this is not valid YAML (${syntax.message.split('\n')[0]}).`, { line: lines.linePos(syntax.pos[0]).line }, CONFIG);
  }
  const raw: unknown = doc.toJS();
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) throw invalidFile(file, WHAT, 'it must be a YAML mapping of field: value lines.', { line: 1 }, CONFIG);
  const parsed = GatewayFileSchema.safeParse({ ...(raw as object), ...stripUndefined(overrides) });
  if (!parsed.success) throw configIssue(file, parsed.error.issues[0], doc, lines, overrides);
  const config = parsed.data;
  const at = (p: string): string => (isAbsolute(p) ? p : join(dir, p));
  return { ...config, dir, certFile: at(config.cert), keyFile: at(config.key), usersFile: at(config.users) };
}

/** A schema issue in words: the field's dotted path and, where the file holds it, its line. */
function configIssue(file: string, issue: z.core.$ZodIssue | undefined, doc: Document, lines: LineCounter, overrides: Partial<GatewayFile>): PinholeError {
  const path = (issue?.path ?? []).map(String);
  const unknownKey = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const fieldPath = unknownKey === undefined ? path : [...path, unknownKey];
  const field = fieldPath.join('.');
  const fromFlag = path.length > 0 && path[0] !== undefined && Object.hasOwn(stripUndefined(overrides), path[0]);
  const node = unknownKey === undefined ? doc.getIn(path, true) : keyNodeOf(doc.getIn(path, true) ?? (path.length === 0 ? doc.contents : undefined), unknownKey);
  const offset = isNode(node) ? node.range?.[0] : undefined;
  const problem = unknownKey === undefined ? `${issue?.message ?? 'not valid'}${fromFlag ? ' (the value given on the command line)' : ''}.` : 'there is no such field (see the README for the fields gateway.yaml takes).';
  return invalidFile(file, WHAT, problem, { ...(offset === undefined ? {} : { line: lines.linePos(offset).line }), ...(field === '' ? {} : { field }) }, CONFIG);
}

/** The key node of `key` in a YAML map node, for the line of a field the schema does not know. */
const keyNodeOf = (map: unknown, key: string): unknown => (isMap(map) ? map.items.find((pair) => isScalar(pair.key) && pair.key.value === key)?.key : undefined);

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
