/**
 * EngineHost: the one place that implements the UI contract's commands, by composing the engine,
 * the profile store and the keychain. Both front ends (the console's WebSocket, the Electron
 * window's IPC) serve `host.handlers` and forward `host.onEvent` to their UIs, so the tray, the
 * window and the browser all read state from here. Dependencies are passed in as the small
 * interfaces below, which is what makes this testable without a window or a keychain.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Disposer, EngineApi, EngineStatus, LogLine, NetworkChangeReason, SignInPrompt } from '../../shared/engine-api.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { signInForConnection, signInForImport } from '../identity/sign-in.js';
import type { SignedInCredential } from '../identity/signed-in-credential.js';
import { PinholeError } from '../../shared/errors.js';
import { decodeLink } from '../../shared/link.js';
import { SIGN_IN_PENDING_USER, targetFromLink } from '../../shared/link-target.js';
import type { DoctorReport } from '../../shared/doctor.js';
import { bundleFileName, buildBundle } from '../doctor/bundle.js';
import { runDoctor } from '../doctor/check.js';
import { profileSecrets, upstreamForProfile } from '../doctor/profile-secrets.js';
import { readSystemProxy, type SystemProxyReading } from '../doctor/system-proxy.js';
import { importLink } from '../profiles/store.js';
import type { ManagedConfig, ManagedView } from '../../shared/managed.js';
import { managedLockedError } from '../profiles/store.js';
import { createRouting, routingUnderManaged, type CallingApp, type RouteDecision, type RouteQuery, type Routing } from '../routing.js';
import { ProfileSchema, parseEndpoint, type GatewayTarget, type Profile } from '../../shared/profile.js';
import type {
  AppList,
  CommandResult,
  EventName,
  Handlers,
  Info,
  KeychainInfo,
  LinkPreview,
  ProfileList,
  ProfileView,
  UiSettings,
  UiSettingsPatch,
} from '../../shared/contract.js';

export interface ConnectOptions {
  listen?: string;
  profileName?: string;
  /** Routing (main/routing.ts): asked once for each new request, with the calling app when it is known. */
  decide?: (query: RouteQuery) => RouteDecision;
  /** The PAC served by the local proxy, from the same rules. */
  pac?: (listen: string) => string;
  /** Finds the application behind a local connection (enables per-app rules and the Apps list). */
  identifyApp?: (socket: Socket) => Promise<CallingApp | undefined>;
  /** A signed-in user's tunnel credential (issue 18). */
  credential?: SignedInCredential;
  /** Watch the network and reconnect over a new one at once (main/network/). */
  netwatch?: boolean;
}

/** The engine as the host drives it (main/engine.ts implements this). */
export interface HostEngine extends EngineApi {
  connect(target: GatewayTarget, password: string, options: ConnectOptions): Promise<{ listen: string }>;
  disconnect(): Promise<void>;
  /** The device code of a sign-in under way, on the state every UI reads (absent: the engine cannot show one). */
  showSignInPrompt?(prompt: SignInPrompt | undefined): void;
  readonly logger?: Logger;
  /** A network change the OS reported (main/engine.ts); absent in engines that do not roam. */
  networkChanged?(reason: NetworkChangeReason): void;
}

/** Profiles and settings on disk (main/profiles/store.ts, seen through an adapter). */
export interface HostProfiles {
  list(): Promise<Profile[]> | Profile[];
  save(profile: Profile): Promise<unknown> | unknown;
  remove(id: string): Promise<unknown> | unknown;
  defaultId(): Promise<string | null> | string | null;
  setDefault(id: string): Promise<unknown> | unknown;
  getSettings(): Promise<UiSettings> | UiSettings;
  updateSettings(patch: UiSettingsPatch): Promise<UiSettings> | UiSettings;
}

/** The OS keychain (main/keychain/keychain.ts). */
export interface HostSecrets {
  get(ref: string): Promise<string | undefined | null> | string | undefined | null;
  set(ref: string, secret: string): Promise<void> | void;
  delete(ref: string): Promise<unknown> | unknown;
  readonly kind: string;
  /** Where secrets live, as a sentence ("GNOME Keyring (Secret Service), collection 'login'"). */
  readonly location: string;
}

/** Choosing where passwords go while running (main/keychain/secret-store-switch.ts); absent where the shell decides. */
export interface SecretsControl {
  state(): KeychainInfo;
  useFile(file: string, passphrase: string): Promise<void>;
  retryKeychain(): Promise<void>;
}

/** Why a stored profile cannot connect while no keychain answers. */
const NO_PASSWORD_WITHOUT_STORE =
  'No system keychain answers, so no stored password can be read. Start a keyring and try again, or open the passphrase-encrypted secrets file that holds it; a link can still be used for this session.';

/** Sets the OS proxy while connected (main/sysproxy); returns how to put it back. */
export type SystemProxyPort = (options: { host: string; port: number; mode: 'pac' | 'manual'; bypass: string[] }) => Promise<{ restore(): Promise<void> }>;

export interface EngineHostOptions {
  engine: HostEngine;
  profiles: HostProfiles;
  secrets: HostSecrets;
  version: string;
  platform: string;
  shellExportLine: (host: string, port: number | string) => string;
  systemProxy?: SystemProxyPort;
  secretsControl?: SecretsControl;
  identifyApp?: ConnectOptions['identifyApp'];
  now?: () => number;
  /** Opens a URL in the system browser (a sign-in with a provider that has no device code). */
  openExternal?: (url: string) => void | Promise<void>;
  /** Where the path check logs its verdicts (the engine's logger, so they reach the log view). */
  logger?: Logger;
  /** The OS proxy as set now (the system-proxy hop, the bundle); main/doctor/system-proxy.ts by default. */
  readSystemProxy?: () => Promise<SystemProxyReading>;
  /** The administrator's managed configuration (main/managed/managed-config.ts): shown, its locks and routing applied, followed when it changes. */
  managed?: HostManaged;
}

/** What the host needs of the managed configuration. */
export interface HostManaged {
  readonly current: ManagedConfig | undefined;
  view(): ManagedView | undefined;
  onChange(listener: () => void): () => void;
  readonly source: { readonly where: string };
}

/** The newest log lines a diagnostics bundle carries. */
const BUNDLE_LOG_LINES = 1000;

type EventListener = (event: EventName, payload: unknown) => void;

const notFound = (id: string): PinholeError => new PinholeError('PINHOLE_PROFILE_NOT_FOUND', `There is no profile "${id}".`);

const timestamp = (time: number): string => new Date(time).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');

export class EngineHost {
  readonly handlers: Handlers;
  private readonly listeners = new Set<EventListener>();
  private readonly engineSubscriptions: Disposer[];
  private proxySession: { restore(): Promise<void> } | undefined;
  private activeProfileId: string | undefined;
  /** A link connected for this session only: what "Check my connection" checks when no profile is active. */
  private sessionLink: { target: GatewayTarget; password: string; name: string } | undefined;
  private lastReport: DoctorReport | undefined;

  constructor(private readonly deps: EngineHostOptions) {
    const { engine } = deps;
    this.engineSubscriptions = [
      engine.on('status', (status) => {
        this.emit('status', status);
        if (status.state === 'disconnected' || status.state === 'error') void this.restoreSystemProxy();
      }),
      engine.on('stats', (stats) => this.emit('stats', stats)),
      engine.on('log', (line) => this.emit('log', line)),
      engine.on('apps', () => void this.appList().then((list) => this.emit('apps', list))),
      // A change to the managed file reaches the UI at once (no restart), and its routing the next requests.
      ...(deps.managed
        ? [
            deps.managed.onChange(() => {
              void this.profileList().then((list) => this.emit('profiles', list));
              void this.refreshRules().catch(() => undefined);
            }),
          ]
        : []),
    ];
    this.handlers = this.buildHandlers();
  }

  /** The managed configuration's connectOnStart: the default profile connects; a failure is in the status and the log. */
  async connectAtStart(logger: { warn: (fields: object, message: string) => void }): Promise<void> {
    try {
      await this.handlers.connect({});
    } catch (err) {
      logger.warn({ code: (err as { code?: string }).code }, 'The managed configuration asks to connect at start, and that failed.');
    }
  }

  /** Every event the UIs should see, already in contract shapes. */
  onEvent(listener: EventListener): Disposer {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The OS says the network changed or the computer woke up (the Electron shell's powerMonitor): the engine checks its connection now. */
  networkChanged(reason: NetworkChangeReason): void {
    this.deps.engine.networkChanged?.(reason);
  }

  /** Quit path: disconnect and put the system proxy back before anything else goes away. */
  async shutdown(): Promise<void> {
    try {
      if (this.deps.engine.getStatus().state !== 'disconnected') await this.deps.engine.disconnect();
    } finally {
      await this.restoreSystemProxy();
      for (const dispose of this.engineSubscriptions) dispose();
      this.listeners.clear();
    }
  }

  private emit(event: EventName, payload: unknown): void {
    for (const listener of this.listeners) {
      try {
        listener(event, payload);
      } catch {
        // One broken UI must not stop the others from hearing about state changes.
      }
    }
  }

  private async restoreSystemProxy(): Promise<void> {
    const session = this.proxySession;
    this.proxySession = undefined;
    await session?.restore();
  }

  private async profileList(): Promise<ProfileList> {
    const [profiles, defaultId] = await Promise.all([this.deps.profiles.list(), this.deps.profiles.defaultId()]);
    const views: ProfileView[] = [];
    for (const profile of profiles) views.push(await this.view(profile, defaultId));
    const effectiveDefault = defaultId && profiles.some((p) => p.id === defaultId) ? defaultId : (profiles[0]?.id ?? null);
    const managed = this.deps.managed?.view();
    return { profiles: views.map((v) => ({ ...v, isDefault: v.id === effectiveDefault })), defaultId: effectiveDefault, ...(managed ? { managed } : {}) };
  }

  private async view(profile: Profile, defaultId: string | null): Promise<ProfileView> {
    let hasPassword: boolean;
    try {
      hasPassword = Boolean(await this.deps.secrets.get(profile.secretRef));
    } catch {
      hasPassword = false;
    }
    return { ...profile, isDefault: profile.id === defaultId, hasPassword };
  }

  private async find(id: string): Promise<Profile> {
    const profiles = await this.deps.profiles.list();
    const profile = profiles.find((p) => p.id === id) ?? profiles.find((p) => p.name === id);
    if (!profile) throw notFound(id);
    return profile;
  }

  /** The profile whose app rules apply: the connected one, else the default, else the first. */
  private async ruleProfile(): Promise<Profile | undefined> {
    const profiles = await this.deps.profiles.list();
    const defaultId = await this.deps.profiles.defaultId();
    return profiles.find((p) => p.id === this.activeProfileId) ?? profiles.find((p) => p.id === defaultId) ?? profiles[0];
  }

  private async appList(): Promise<AppList> {
    const profile = await this.ruleProfile();
    const rules = profile?.appRules ?? {};
    const defaultAction = profile?.defaultAppAction ?? 'tunnel';
    const seen = this.deps.engine.getApps();
    const apps = seen.map((app) => ({ ...app, action: rules[app.path] ?? defaultAction, ruled: app.path in rules }));
    for (const [path, action] of Object.entries(rules)) {
      if (!seen.some((app) => app.path === path)) {
        apps.push({ path, name: path.split(/[\\/]/).pop() ?? path, lastSeen: 0, connections: 0, action, ruled: true });
      }
    }
    return { apps, defaultAction };
  }

  private async saveAndAnnounce(profile: Profile): Promise<ProfileView> {
    const valid = ProfileSchema.parse(profile);
    await this.deps.profiles.save(valid);
    return this.announceSaved(valid.id);
  }

  /** Tells the UI the profile list changed and returns the saved profile's view. */
  private async announceSaved(id: string) {
    const list = await this.profileList();
    this.emit('profiles', list);
    const saved = list.profiles.find((p) => p.id === id);
    if (!saved) throw new PinholeError('PINHOLE_INTERNAL', 'The profile was not saved.');
    return saved;
  }

  private preview(link: string, existing: Profile[]): LinkPreview {
    const payload = decodeLink(link);
    const first = parseEndpoint(payload.endpoints[0] ?? '');
    const match = existing.find((p) => p.serverName === payload.serverName && p.user === payload.user);
    return {
      name: payload.name ?? first?.host ?? payload.serverName,
      endpoints: payload.endpoints,
      serverName: payload.serverName,
      user: payload.user ?? SIGN_IN_PENDING_USER,
      ...(payload.pin ? { pin: payload.pin } : {}),
      transport: payload.transport,
      domains: payload.domains ?? [],
      ...(match ? { existingId: match.id } : {}),
    };
  }

  // Synchronous on the proxy's path: the routing is compiled at connect time and again when a rule changes.
  private routing: Routing = createRouting();
  private decide = (query: RouteQuery): RouteDecision => this.routing.decide(query);
  private pac = (listen: string): string => this.routing.pac(listen);

  private async refreshRules(): Promise<AppList> {
    const profile = await this.ruleProfile();
    this.routing = routingUnderManaged(this.deps.managed?.current, profile ? { domains: profile.domains, appRules: { appRules: profile.appRules, defaultAppAction: profile.defaultAppAction } } : {});
    const list = await this.appList();
    this.emit('apps', list);
    return list;
  }

  private async info(): Promise<Info> {
    const settings = await this.deps.profiles.getSettings();
    const listen = this.deps.engine.getStatus().listen ?? `127.0.0.1:${settings.localPort}`;
    const endpoint = parseEndpoint(listen) ?? { host: '127.0.0.1', port: settings.localPort };
    return {
      version: this.deps.version,
      keychain: this.deps.secretsControl?.state() ?? { kind: this.deps.secrets.kind, location: this.deps.secrets.location, available: true },
      proxyAddress: listen,
      shellExport: this.deps.shellExportLine(endpoint.host, endpoint.port),
      platform: this.deps.platform,
    };
  }

  private systemProxyReading(): Promise<SystemProxyReading> {
    return (this.deps.readSystemProxy ?? readSystemProxy)();
  }

  /** The path check for a profile (default: the connected one, the session's link, the default one), as `pinhole doctor` runs it. */
  private async checkConnection(profileId: string | undefined, destination: string | undefined): Promise<DoctorReport> {
    const { engine, profiles, secrets } = this.deps;
    let subject: { target: GatewayTarget; password: string; name: string; upstream?: Awaited<ReturnType<typeof upstreamForProfile>> };
    if (profileId === undefined && this.activeProfileId === undefined && this.sessionLink && engine.getStatus().state !== 'disconnected') subject = this.sessionLink;
    else {
      const chosen = profileId ?? this.activeProfileId ?? (await this.profileList()).defaultId;
      if (!chosen) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', 'Add a profile first: paste the link your IT team sent you.');
      const profile = await this.find(chosen);
      const password = await secrets.get(profile.secretRef);
      if (!password) throw new PinholeError('PINHOLE_AUTH_MISSING', `Profile "${profile.name}" has no password stored; enter it in the profile.`);
      const upstream = await upstreamForProfile(profile, (await profiles.getSettings()).upstreamProxy, (ref) => secrets.get(ref));
      subject = { target: profile, password, name: profile.name, ...(upstream ? { upstream } : {}) };
    }
    const status = engine.getStatus();
    const local = status.state === 'connected' && status.listen ? parseEndpoint(status.listen) : undefined;
    const target = destination === undefined ? undefined : parseEndpoint(destination);
    if (destination !== undefined && !target) throw new PinholeError('PINHOLE_USAGE', `The destination must be HOST:PORT, got "${destination}".`);
    const report = await runDoctor({
      target: subject.target,
      password: subject.password,
      profileName: subject.name,
      logger: this.deps.logger ?? createLogger({ name: 'pinhole', level: 'silent', destination: { write: () => undefined } }),
      readSystemProxy: () => this.systemProxyReading(),
      ...(subject.upstream ? { upstreamProxy: subject.upstream } : {}),
      ...(target ? { destination: target } : {}),
      ...(local ? { localProxy: local } : {}),
    });
    this.lastReport = report;
    return report;
  }

  private control(): SecretsControl {
    const control = this.deps.secretsControl;
    if (!control) throw new PinholeError('PINHOLE_USAGE', 'Where passwords are kept is chosen by this application, not here.');
    return control;
  }

  /** Connects the engine (after dropping any earlier connection) and sets the system proxy when the settings say so. */
  private async connectTo(
    target: GatewayTarget,
    password: string,
    name: string,
    applyRules: () => Promise<unknown>,
    saveRefreshed?: (next: GatewayTarget) => Promise<void>,
    refresh?: { ref: string; stored: string | undefined },
  ): Promise<EngineStatus> {
    const { engine, profiles } = this.deps;
    if (engine.getStatus().state !== 'disconnected' && engine.getStatus().state !== 'error') await engine.disconnect();
    await applyRules();
    const settings = await profiles.getSettings();
    // A sign-in profile (issue 18): the stored refresh token, else the device code on the Home page; the connect waits for it.
    const credential = target.signIn === undefined ? undefined : await this.signIn(target, refresh);
    const { listen } = await engine.connect(credential === undefined ? target : { ...target, user: credential.user }, password, {
      ...(credential === undefined ? {} : { credential }),
      listen: `127.0.0.1:${settings.localPort}`,
      profileName: name,
      decide: this.decide,
      pac: this.pac,
      ...(this.deps.identifyApp ? { identifyApp: this.deps.identifyApp } : {}),
      // The gateway's profile changed (an endpoint added): a stored profile keeps the change.
      ...(saveRefreshed ? { onProfileChange: saveRefreshed } : {}),
      // The desktop app and the console follow the laptop across networks (issue 20).
      netwatch: true,
    });
    if (settings.systemProxyOnConnect && this.deps.systemProxy) {
      const endpoint = parseEndpoint(listen);
      if (endpoint) {
        await this.restoreSystemProxy();
        this.proxySession = await this.deps.systemProxy({ host: endpoint.host, port: endpoint.port, mode: settings.proxyMode, bypass: settings.bypass });
      }
    }
    return engine.getStatus();
  }

  private async signIn(target: GatewayTarget, refresh: { ref: string; stored: string | undefined } | undefined): Promise<SignedInCredential> {
    const { engine, secrets } = this.deps;
    return signInForConnection({
      target,
      logger: engine.logger ?? createLogger({ name: 'pinhole', level: 'silent' }),
      refreshToken: refresh?.stored,
      ...(refresh === undefined
        ? {}
        : {
            saveRefreshToken: async (token: string) => void (await secrets.set(refresh.ref, token)),
            loadRefreshToken: async () => (await secrets.get(refresh.ref)) ?? undefined,
          }),
      showPrompt: (prompt) => engine.showSignInPrompt?.(prompt),
      ...(this.deps.openExternal === undefined ? {} : { openBrowser: this.deps.openExternal }),
    });
  }

  private buildHandlers(): Handlers {
    const { engine, profiles, secrets } = this.deps;
    const now = this.deps.now ?? Date.now;
    const empty = {} as const;
    const handlers: Handlers = {
      listProfiles: () => this.profileList(),
      previewLink: async ({ link }) => this.preview(link, await profiles.list()),
      importLink: async ({ link, name }) => {
        const wasEmpty = (await profiles.list()).length === 0;
        const profile = await importLink(link, {
          store: profiles,
          secrets: { set: async (ref, secret) => secrets.set(ref, secret), delete: async (ref) => Boolean(await secrets.delete(ref)) },
          ...(name === undefined ? {} : { name }),
          now,
          signIn: (target) =>
            signInForImport(target, {
              logger: engine.logger ?? createLogger({ name: 'pinhole', level: 'silent' }),
              onDevicePrompt: (prompt) => engine.showSignInPrompt?.(prompt),
              ...(this.deps.openExternal === undefined ? {} : { openBrowser: this.deps.openExternal }),
            }),
        });
        const view = await this.announceSaved(profile.id);
        return wasEmpty ? { ...view, isDefault: true } : view;
      },
      saveProfile: async (draft) => {
        const existing = draft.id ? await this.find(draft.id) : undefined;
        const id = existing?.id ?? randomUUID();
        const secretRef = existing?.secretRef ?? `profile:${id}`;
        if (draft.password !== undefined) await secrets.set(secretRef, draft.password);
        const { password: _password, ...fields } = draft;
        const first = (await profiles.list()).length === 0;
        const view = await this.saveAndAnnounce({
          ...(existing ?? { appRules: {}, defaultAppAction: 'tunnel', createdAt: new Date(now()).toISOString() }),
          ...fields,
          wsPath: fields.wsPath ?? existing?.wsPath ?? '/pinhole/ws',
          id,
          secretRef,
        } as Profile);
        if (first) await profiles.setDefault(view.id);
        return view;
      },
      deleteProfile: async ({ id }) => {
        const profile = await this.find(id);
        if (this.activeProfileId === profile.id && engine.getStatus().state !== 'disconnected') await engine.disconnect();
        await profiles.remove(profile.id);
        try {
          await secrets.delete(profile.secretRef);
        } catch {
          // The profile is gone either way; a keychain entry that was never there is not an error.
        }
        this.emit('profiles', await this.profileList());
        return empty;
      },
      setDefaultProfile: async ({ id }) => {
        const profile = await this.find(id);
        await profiles.setDefault(profile.id);
        this.emit('profiles', await this.profileList());
        return empty;
      },
      setCredentials: async ({ id, user, password }) => {
        const profile = await this.find(id);
        await secrets.set(profile.secretRef, password);
        if (profile.user !== user) await profiles.save({ ...profile, user });
        this.emit('profiles', await this.profileList());
        return { storedIn: secrets.location };
      },
      clearCredentials: async ({ id }) => {
        const profile = await this.find(id);
        await secrets.delete(profile.secretRef);
        this.emit('profiles', await this.profileList());
        return empty;
      },
      connect: async ({ profileId }) => {
        const list = await this.profileList();
        const chosen = profileId ?? list.defaultId;
        if (!chosen) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', 'Add a profile first: paste the link your IT team sent you.');
        const profile = await this.find(chosen);
        const password = await secrets.get(profile.secretRef);
        if (!password && this.deps.secretsControl?.state().available === false) throw new PinholeError('PINHOLE_KEYCHAIN_UNAVAILABLE', NO_PASSWORD_WITHOUT_STORE);
        if (!password && profile.signIn === undefined) throw new PinholeError('PINHOLE_AUTH_MISSING', `Profile "${profile.name}" has no password stored; enter it in the profile.`);
        this.activeProfileId = profile.id;
        const signIn = profile.signIn === undefined ? undefined : { ref: profile.secretRef, stored: password ?? undefined };
        return this.connectTo(
          profile,
          signIn === undefined ? (password ?? '') : '',
          profile.name,
          () => this.refreshRules(),
          async (next) => {
            await profiles.save({ ...profile, ...next });
            this.emit('profiles', await this.profileList());
          },
          signIn,
        );
      },
      connectLink: async ({ link }) => {
        const { target, password, name } = targetFromLink(link);
        this.activeProfileId = undefined;
        this.sessionLink = { target, password, name };
        return this.connectTo(target, password, name, async () => {
          this.routing = routingUnderManaged(this.deps.managed?.current, { domains: target.domains });
        });
      },
      useSecretsFile: async ({ file, passphrase }) => {
        await this.control().useFile(file, passphrase);
        this.emit('profiles', await this.profileList());
        return this.info();
      },
      retryKeychain: async () => {
        await this.control().retryKeychain();
        this.emit('profiles', await this.profileList());
        return this.info();
      },
      disconnect: async () => {
        const { managed } = this.deps;
        if (managed?.current?.lockConnectSwitch === true && engine.getStatus().state !== 'disconnected') throw managedLockedError(managed, 'The connection');
        await engine.disconnect();
        await this.restoreSystemProxy();
        return engine.getStatus();
      },
      getStatus: () => engine.getStatus(),
      getStats: () => engine.getStats(),
      getLog: ({ after }) => ({ lines: engine.getLog().filter((line: LogLine) => after === undefined || line.seq > after) }),
      getApps: () => this.appList(),
      setAppRule: async ({ path, action }) => {
        const profile = await this.ruleProfile();
        if (!profile) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', 'Add a profile before setting app rules.');
        await profiles.save({ ...profile, appRules: { ...profile.appRules, [path]: action } });
        return this.refreshRules();
      },
      setDefaultAppAction: async ({ action }) => {
        const profile = await this.ruleProfile();
        if (!profile) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', 'Add a profile before setting app rules.');
        await profiles.save({ ...profile, defaultAppAction: action });
        return this.refreshRules();
      },
      getSettings: () => profiles.getSettings(),
      setSettings: async (patch) => {
        const settings = await profiles.updateSettings(patch);
        this.emit('settings', settings);
        return settings;
      },
      exportLogs: () => {
        const text = engine
          .getLog()
          .map((line) => JSON.stringify({ time: new Date(line.time).toISOString(), level: line.level, msg: line.msg, ...(line.code ? { code: line.code } : {}), ...line.fields }))
          .join('\n');
        return { filename: `pinhole-${timestamp(now())}.log`, text: text.length > 0 ? `${text}\n` : '' };
      },
      getInfo: () => this.info(),
      checkConnection: async ({ profileId, destination }) => this.checkConnection(profileId, destination),
      exportDiagnostics: async () => {
        let report = this.lastReport;
        let reportMissing: string | undefined;
        if (!report) report = await this.checkConnection(undefined, undefined).catch((err: unknown) => ((reportMissing = err instanceof Error ? err.message : String(err)), undefined));
        const all = await profiles.list();
        const systemProxy = await this.systemProxyReading().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
        const time = now();
        const archive = buildBundle({
          ...(report ? { report } : { reportMissing: reportMissing ?? 'The path check did not run.' }),
          version: this.deps.version,
          logs: engine.getLog().slice(-BUNDLE_LOG_LINES),
          profiles: all,
          settings: await profiles.getSettings(),
          systemProxy,
          env: process.env,
          secrets: [...(await profileSecrets(all, (ref) => secrets.get(ref))), ...(this.sessionLink ? [this.sessionLink.password] : []), ...(process.env['PINHOLE_SECRETS_PASSPHRASE'] ? [process.env['PINHOLE_SECRETS_PASSPHRASE']] : [])],
          now: () => time,
        });
        return { filename: bundleFileName(time), base64: archive.toString('base64') };
      },
    };
    return handlers satisfies { [K in keyof Handlers]: (input: never) => Promise<CommandResult<K>> | CommandResult<K> };
  }
}
