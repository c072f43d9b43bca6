/**
 * Profiles and settings on disk, headless (`conf`, the same file layout and migrations the desktop
 * app's electron-store uses: see schema.ts). Profiles hold references to secrets, never secrets;
 * the password of a profile lives in a SecretStore under `profile:<id>`.
 */
import { randomUUID } from 'node:crypto';
import Conf from 'conf';
import { PinholeError } from '../../shared/errors.js';
import { decodeLink } from '../../shared/link.js';
import { SIGN_IN_PENDING_USER } from '../../shared/link-target.js';
import type { Logger } from '../../shared/log.js';
import { formatPin, GatewayTargetSchema, ProfileSchema, type GatewayTarget, type Profile, type Transport } from '../../shared/profile.js';
import { DEFAULT_SETTINGS, SettingsPatchSchema, SettingsSchema, type Settings, type SettingsPatch } from '../../shared/settings.js';
import { isManagedId, MANAGED_USER_PENDING, managedProfileId, profileFromManaged, type ManagedConfig } from '../../shared/managed.js';
import type { SecretStore } from '../keychain/secret-store.js';
import { writeError } from './atomic-write.js';
import { configDir } from './paths.js';
import { storeOptions, type StoreData } from './schema.js';

/** The administrator's managed configuration as the store sees it (main/managed/managed-config.ts). */
export interface ManagedProfilesSource {
  readonly current: ManagedConfig | undefined;
  readonly source: { readonly where: string };
}

/** The sentence for a change the managed configuration does not allow. */
export const managedLockedError = (managed: ManagedProfilesSource, what: string): PinholeError =>
  new PinholeError(
    'PINHOLE_MANAGED_LOCKED',
    `${what} is set by your administrator's managed configuration (${managed.source.where}) and cannot be changed here; ask your administrator${managed.current?.supportUrl ? ` (${managed.current.supportUrl})` : ''}.`,
  );

export interface ProfileStoreOptions {
  /** The administrator's managed configuration: its profiles are listed (locked), its locks apply. */
  managed?: ManagedProfilesSource;
  /** The folder (default: OS convention, or PINHOLE_CONFIG_DIR). */
  dir?: string;
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

const notFound = (nameOrId: string): PinholeError => new PinholeError('PINHOLE_PROFILE_NOT_FOUND', `There is no profile named "${nameOrId}".`);

export class ProfileStore {
  private readonly conf: Conf<StoreData>;
  private readonly logger: Logger | undefined;
  private readonly managed: ManagedProfilesSource | undefined;

  constructor({ dir, configDir: cfg, env = process.env, logger, managed }: ProfileStoreOptions = {}) {
    this.logger = logger;
    this.managed = managed;
    const cwd = dir ?? cfg ?? configDir(env);
    try {
      this.conf = new Conf<StoreData>(storeOptions(cwd));
    } catch (error) {
      if (error instanceof SyntaxError)
        throw new PinholeError('PINHOLE_CONFIG_INVALID', `The settings file in ${cwd} is damaged and was left untouched; fix or move it away.`, { cause: error });
      throw writeError(error, cwd);
    }
  }

  /** The settings file's path. */
  get path(): string {
    return this.conf.path;
  }

  private write(patch: Partial<StoreData>): void {
    try {
      this.conf.set(patch);
    } catch (error) {
      throw writeError(error, this.conf.path);
    }
  }

  /** The managed profiles (with the user each one's link brought), then the stored ones; only managed ones when the list is locked. */
  list(): Profile[] {
    const config = this.managed?.current;
    const users = this.managedUsers();
    const managed = (config?.profiles ?? []).map((m) => profileFromManaged(m, users[managedProfileId(m.name)]));
    if (config?.lockProfiles === true) return managed;
    const taken = new Set(managed.map((p) => p.name.toLowerCase()));
    return [...managed, ...this.stored().filter((p) => !taken.has(p.name.toLowerCase()))];
  }

  private managedUsers(): Record<string, string> {
    const raw = this.conf.get('managedUsers') as unknown;
    return typeof raw === 'object' && raw !== null ? (raw as Record<string, string>) : {};
  }

  /** Refuses a change to a managed profile or, while the administrator locks it, to the list. */
  private checkUnlocked(profile: Profile | undefined, what: string): void {
    const managed = this.managed;
    if (managed === undefined) return;
    if (profile !== undefined && isManagedId(profile.id)) throw managedLockedError(managed, `The profile "${profile.name}"`);
    if (managed.current?.lockProfiles === true) throw managedLockedError(managed, what);
  }

  private stored(): Profile[] {
    const out: Profile[] = [];
    for (const raw of this.conf.get('profiles') ?? []) {
      const parsed = ProfileSchema.safeParse(raw);
      if (parsed.success) out.push(parsed.data);
      else this.logger?.warn({ issues: parsed.error.issues.length }, 'A stored profile does not match the schema and was skipped.');
    }
    return out;
  }

  /** By id, else by exact name, else by case-insensitive name. */
  get(nameOrId: string): Profile | undefined {
    const all = this.list();
    return (
      all.find((p) => p.id === nameOrId) ??
      all.find((p) => p.name === nameOrId) ??
      all.find((p) => p.name.toLowerCase() === nameOrId.toLowerCase())
    );
  }

  /** Like get(), but a missing profile is PINHOLE_PROFILE_NOT_FOUND. */
  require(nameOrId: string): Profile {
    const profile = this.get(nameOrId);
    if (!profile) throw notFound(nameOrId);
    return profile;
  }

  /** Inserts or replaces (by id). Unknown fields, such as a password, are dropped by the schema. */
  save(input: Profile): Profile {
    const parsed = ProfileSchema.safeParse(input);
    if (!parsed.success)
      throw new PinholeError('PINHOLE_CONFIG_INVALID', `The profile is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}.`);
    const profile = parsed.data;
    // A managed profile keeps only the user its link brought; the administrator's fields stay.
    if (isManagedId(profile.id)) {
      if (!this.list().some((p) => p.id === profile.id)) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', `The managed profile "${profile.name}" is no longer in the managed configuration.`);
      if (profile.user !== MANAGED_USER_PENDING) this.write({ managedUsers: { ...this.managedUsers(), [profile.id]: profile.user } });
      return this.require(profile.id);
    }
    if (!this.stored().some((p) => p.id === profile.id)) this.checkUnlocked(undefined, 'The profile list');
    const all = this.stored();
    if (all.some((p) => p.id !== profile.id && p.name.toLowerCase() === profile.name.toLowerCase()))
      throw new PinholeError('PINHOLE_CONFIG_INVALID', `A profile named "${profile.name}" already exists.`);
    const index = all.findIndex((p) => p.id === profile.id);
    if (index >= 0) all[index] = profile;
    else all.push(profile);
    this.write({ profiles: all });
    return profile;
  }

  /** Removes the profile (not its secret: see forgetProfile). False when there was none. */
  remove(nameOrId: string): boolean {
    const profile = this.get(nameOrId);
    if (!profile) return false;
    this.checkUnlocked(profile, 'The profile list');
    const settings = this.getSettings();
    const patch: Partial<StoreData> = { profiles: this.stored().filter((p) => p.id !== profile.id) };
    if (settings.defaultProfileId === profile.id) patch.settings = { ...settings, defaultProfileId: null };
    this.write(patch);
    return true;
  }

  /** Throws PINHOLE_MANAGED_LOCKED when the managed configuration does not let this profile go. */
  assertRemovable(profile: Profile): void {
    this.checkUnlocked(profile, 'The profile list');
  }

  setDefault(nameOrId: string): void {
    const profile = this.require(nameOrId);
    this.write({ settings: { ...this.getSettings(), defaultProfileId: profile.id } });
  }

  /** The chosen default, else (with a managed configuration) its first profile. */
  defaultId(): string | null {
    const id = this.getSettings().defaultProfileId;
    const all = this.list();
    if (id && all.some((p) => p.id === id)) return id;
    return all.find((p) => p.managed === true)?.id ?? null;
  }

  getDefault(): Profile | undefined {
    const id = this.defaultId();
    return id ? this.get(id) : undefined;
  }

  getSettings(): Settings {
    const parsed = SettingsSchema.safeParse(this.conf.get('settings') ?? {});
    if (parsed.success) return parsed.data;
    this.logger?.warn({ issues: parsed.error.issues.map((i) => i.path.join('.')) }, 'Stored settings are not valid; defaults are used for them.');
    return { ...DEFAULT_SETTINGS };
  }

  updateSettings(patch: SettingsPatch): Settings {
    const clean = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    // An explicit `upstreamProxy: undefined` (or null) means "no corporate proxy".
    if ('upstreamProxy' in patch && (patch.upstreamProxy === undefined || (patch.upstreamProxy as unknown) === null)) clean.upstreamProxy = '';
    const parsed = SettingsPatchSchema.safeParse(clean);
    if (!parsed.success)
      throw new PinholeError('PINHOLE_CONFIG_INVALID', `The settings are not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}.`);
    const next = SettingsSchema.parse({ ...this.getSettings(), ...parsed.data });
    this.write({ settings: next });
    return next;
  }
}

/** What the UI shows before a link is saved: no secret, nothing stored. */
export interface LinkPreview {
  name: string;
  server: string;
  endpoints: string[];
  serverName: string;
  user: string;
  /** "AB:CD:..." or undefined when the link trusts the OS certificate store. */
  pin?: string;
  transport: Transport;
  domains: string[];
  domainsCount: number;
  /** The profile a link for the same server and user would update. */
  existingId?: string;
}

export const previewLink = (link: string, existing: readonly Profile[] = []): LinkPreview => {
  const payload = decodeLink(link);
  const previous = existing.find((p) => p.serverName === payload.serverName && p.user === payload.user);
  const domains = payload.domains ?? [];
  return {
    name: payload.name ?? payload.serverName,
    server: payload.endpoints[0] ?? payload.serverName,
    endpoints: payload.endpoints,
    serverName: payload.serverName,
    user: payload.user ?? SIGN_IN_PENDING_USER,
    ...(payload.pin ? { pin: formatPin(payload.pin) } : {}),
    transport: payload.transport,
    domains,
    domainsCount: domains.length,
    ...(previous ? { existingId: previous.id } : {}),
  };
};

const uniqueName = (wanted: string, taken: readonly Profile[], selfId: string): string => {
  const used = new Set(taken.filter((p) => p.id !== selfId).map((p) => p.name.toLowerCase()));
  if (!used.has(wanted.toLowerCase())) return wanted;
  for (let n = 2; ; n++) {
    const candidate = `${wanted} (${n})`;
    if (!used.has(candidate.toLowerCase())) return candidate;
  }
};

/** The part of a profile store an import needs; the console host's async port fits as well. */
export interface ProfileWriter {
  list(): readonly Profile[] | Promise<readonly Profile[]>;
  save(profile: Profile): unknown;
  setDefault(id: string): unknown;
}

export interface ImportLinkOptions {
  store: ProfileWriter;
  secrets: Pick<SecretStore, 'set' | 'delete'>;
  /** Overrides the link's name. */
  name?: string;
  now?: () => number;
  /**
   * For a sign-in link (issue 18): signs the user in at the link's identity provider and says who
   * they are at the gateway and the refresh token to keep (stored like a password, never in a file).
   */
  signIn?: (target: GatewayTarget) => Promise<{ user: string; refreshToken: string }>;
}

export const SIGN_IN_LINK_NEEDS_SIGN_IN = 'This link signs in with your identity provider; this program cannot sign in.';

/**
 * Decodes a provisioning link, puts its password in the SecretStore under `profile:<id>` and saves
 * the profile (a link for a server and user already stored updates that profile). The secret is
 * stored first: if the keychain refuses, nothing is saved.
 */
export const importLink = async (link: string, { store, secrets, name, now = Date.now, signIn }: ImportLinkOptions): Promise<Profile> => {
  const payload = decodeLink(link);
  const trust = payload.pin ? ({ kind: 'pin', pin: payload.pin } as const) : ({ kind: 'system' } as const);
  let user = payload.user;
  let secret = payload.secret;
  if (payload.signIn) {
    if (!signIn) throw new PinholeError('PINHOLE_SIGNIN_REQUIRED', SIGN_IN_LINK_NEEDS_SIGN_IN);
    const target = GatewayTargetSchema.parse({ ...payload, trust, user: SIGN_IN_PENDING_USER, domains: payload.domains ?? [] });
    ({ user, refreshToken: secret } = await signIn(target));
  }
  if (user === undefined || secret === undefined) throw new PinholeError('PINHOLE_LINK_INVALID');
  const existing = await store.list();
  // A managed profile for this gateway whose user is not known yet takes the link's user and password.
  const previous =
    existing.find((p) => p.serverName === payload.serverName && p.user === user) ??
    existing.find((p) => p.managed === true && p.serverName === payload.serverName && p.user === MANAGED_USER_PENDING);
  const id = previous?.id ?? randomUUID();
  const secretRef = previous?.secretRef ?? `profile:${id}`;
  const profile = ProfileSchema.parse({
    ...(previous ?? {}),
    id,
    name: uniqueName(name ?? previous?.name ?? payload.name ?? payload.serverName, existing, id),
    endpoints: payload.endpoints,
    serverName: payload.serverName,
    trust,
    user,
    transport: payload.transport,
    ...(payload.wsPath ? { wsPath: payload.wsPath } : {}),
    domains: payload.domains ?? [],
    ...(payload.signIn ? { signIn: payload.signIn } : {}),
    secretRef,
    createdAt: previous?.createdAt ?? new Date(now()).toISOString(),
  });
  await secrets.set(secretRef, secret);
  try {
    await store.save(profile);
  } catch (error) {
    if (!previous) await Promise.resolve(secrets.delete(secretRef)).catch(() => false);
    throw error;
  }
  if (existing.length === 0) await store.setDefault(id);
  return profile;
};

/** Removes a profile and its password. */
export const forgetProfile = async (nameOrId: string, { store, secrets }: { store: ProfileStore; secrets: SecretStore }): Promise<Profile> => {
  const profile = store.require(nameOrId);
  // Refused before the password is touched.
  store.assertRemovable(profile);
  const shared = store.list().some((p) => p.id !== profile.id && p.secretRef === profile.secretRef);
  if (!shared) await secrets.delete(profile.secretRef);
  store.remove(profile.id);
  return profile;
};
