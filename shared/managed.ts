/**
 * Managed configuration (issue 25): what a company's administrator sets for every machine, read
 * from /etc/pinhole/managed.yaml (Linux), a managed preferences plist (macOS) or
 * HKLM\SOFTWARE\Policies\Pinhole (Windows), all three into this one schema. It provides profiles
 * (gateway, pin, issuer for sign-in: never a secret), connects on start, locks the connect switch
 * and the profile list, sets the routing rules, forbids direct routes and names the support URL.
 * Pure: the readers are in main/managed/.
 */
import { z } from 'zod';
import { EndpointSchema, PinSchema, TransportSchema, parseEndpoint, type Profile } from './profile.js';
import { RuleActionSchema, type Rule, type RuleAction } from './rules.js';

/** Keys that would carry a secret: a managed file is readable by every user of the machine. */
const SECRET_KEY_RE = /pass(word)?|secret|token|credential|link|key$/i;

/** A 0/1 (registry DWORD) or "true"/"false" (a hand-written file) is a boolean too. */
const Flag = z.preprocess((v) => (v === 1 || v === '1' || v === 'true' ? true : v === 0 || v === '0' || v === 'false' ? false : v), z.boolean());
/** One string or a list (a registry REG_SZ with commas, a REG_MULTI_SZ, a YAML list). */
const StringList = <T extends z.ZodType<string>>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v), z.array(item));

export const ManagedProfileSchema = z
  .object({
    name: z.string().min(1).max(100),
    /** HOST:PORT, or several (first preferred). */
    gateway: StringList(EndpointSchema).pipe(z.array(z.string()).min(1)),
    /** The TLS name; default: the first gateway's host. */
    serverName: z.string().min(1).optional(),
    pin: PinSchema.optional(),
    /** The identity provider users sign in with (OIDC issuer URL). */
    issuer: z.url().optional(),
    /** The user name, when the administrator assigns it (the password comes from the user's link or sign-in). */
    user: z.string().min(1).optional(),
    transport: TransportSchema.optional(),
    domains: StringList(z.string().min(1)).optional(),
  })
  .strict();
export type ManagedProfile = z.infer<typeof ManagedProfileSchema>;

export const ManagedRoutingSchema = z
  .object({
    /** Patterns (shared/rules.ts forms) for each route; block is matched first, then tunnel, then direct. */
    block: StringList(z.string().min(1)).optional(),
    tunnel: StringList(z.string().min(1)).optional(),
    direct: StringList(z.string().min(1)).optional(),
    /** Where anything else goes (default tunnel). */
    default: RuleActionSchema.optional(),
  })
  .strict();

export const ManagedConfigSchema = z
  .object({
    profiles: z.array(ManagedProfileSchema).optional(),
    connectOnStart: Flag.optional(),
    lockConnectSwitch: Flag.optional(),
    lockProfiles: Flag.optional(),
    routing: ManagedRoutingSchema.optional(),
    forbidDirect: Flag.optional(),
    supportUrl: z.url().optional(),
  })
  .strict();
export type ManagedConfig = z.infer<typeof ManagedConfigSchema>;

/** The name of the first key, anywhere in `value`, that looks like it carries a secret (with its path). */
const secretKeyIn = (value: unknown, path: string[] = []): string | undefined => {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = secretKeyIn(item, [...path, String(i)]);
      if (found) return found;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_KEY_RE.test(key)) return [...path, key].join('.');
      const found = secretKeyIn(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
};

export type ManagedParse = { ok: true; config: ManagedConfig } | { ok: false; field: string; sentence: string };

/**
 * The managed configuration in `raw` (as read from `where`: a file or a registry key), or the one
 * sentence that names the place and the field that is wrong.
 */
export const parseManaged = (raw: unknown, where: string): ManagedParse => {
  const secret = secretKeyIn(raw);
  if (secret !== undefined)
    return {
      ok: false,
      field: secret,
      sentence: `The managed configuration ${where} is not valid: field ${secret} would hold a secret, which a managed configuration never carries (every user of the machine can read it; users get their password from their own link or by signing in); the last good configuration stays in use.`,
    };
  const parsed = ManagedConfigSchema.safeParse(raw ?? {});
  if (parsed.success) {
    const names = new Set<string>();
    for (const [i, p] of (parsed.data.profiles ?? []).entries()) {
      if (names.has(p.name.toLowerCase())) return { ok: false, field: `profiles.${i}.name`, sentence: `The managed configuration ${where} is not valid: field profiles.${i}.name repeats the profile name "${p.name}"; the last good configuration stays in use.` };
      names.add(p.name.toLowerCase());
    }
    return { ok: true, config: parsed.data };
  }
  const issue = parsed.error.issues[0];
  const keys = issue?.code === 'unrecognized_keys' ? issue.keys : [];
  const field = [...(issue?.path ?? []).map(String), ...(keys.length > 0 ? [keys[0]!] : [])].join('.') || 'document';
  const why = keys.length > 0 ? 'is not a managed setting' : (issue?.message ?? 'is wrong');
  return { ok: false, field, sentence: `The managed configuration ${where} is not valid: field ${field} ${why}; the last good configuration stays in use.` };
};

/** A managed profile's id: stable across reads, never one a stored profile has. */
export const managedProfileId = (name: string): string => `managed:${name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')}`;

export const isManagedId = (id: string): boolean => id.startsWith('managed:');

/** The user shown for a managed profile whose user comes with the user's own link or sign-in. */
export const MANAGED_USER_PENDING = 'not signed in';

/** A managed profile as a stored profile looks (its password, once the user has one, under `secretRef`). */
export const profileFromManaged = (m: ManagedProfile, user?: string): Profile => {
  const id = managedProfileId(m.name);
  return {
    id,
    name: m.name,
    endpoints: m.gateway,
    serverName: m.serverName ?? parseEndpoint(m.gateway[0] ?? '')?.host ?? m.name,
    trust: m.pin ? { kind: 'pin', pin: m.pin } : { kind: 'system' },
    user: user ?? m.user ?? MANAGED_USER_PENDING,
    transport: m.transport ?? 'h2',
    wsPath: '/pinhole/ws',
    domains: m.domains ?? [],
    secretRef: id,
    appRules: {},
    defaultAppAction: 'tunnel',
    managed: true,
    ...(m.issuer ? { issuer: m.issuer } : {}),
  };
};

/** The managed routing as domain rules (block, then tunnel, then direct), with direct routes turned into blocks when forbidden. */
export const managedRules = (config: ManagedConfig): { rules: Rule[]; defaultAction: RuleAction } | undefined => {
  const r = config.routing;
  if (r === undefined) return undefined;
  const direct: RuleAction = config.forbidDirect === true ? 'block' : 'direct';
  const rules: Rule[] = [
    ...(r.block ?? []).map((match) => ({ match, action: 'block' as const })),
    ...(r.tunnel ?? []).map((match) => ({ match, action: 'tunnel' as const })),
    ...(r.direct ?? []).map((match) => ({ match, action: direct })),
  ];
  const fallback = r.default ?? 'tunnel';
  return { rules, defaultAction: fallback === 'direct' ? direct : fallback };
};

/** What the UI shows about the managed configuration (the profile list carries it). */
export const ManagedViewSchema = z.object({
  /** Where it was read from (file or registry key). */
  source: z.string(),
  lockConnectSwitch: z.boolean(),
  lockProfiles: z.boolean(),
  connectOnStart: z.boolean(),
  forbidDirect: z.boolean(),
  supportUrl: z.string().optional(),
  /** The last read was malformed: the sentence (the last good configuration stays in use). */
  problem: z.string().optional(),
});
export type ManagedView = z.infer<typeof ManagedViewSchema>;
