/**
 * The UI <-> engine contract, declared once. Every command the UI can send and every event it
 * receives is a zod schema here; both transports (Electron IPC through the preload, the console's
 * WebSocket) are generic over this object, so no channel name is typed twice and every payload is
 * validated on both sides. Errors cross as `{ code, message }` only.
 */
import { z } from 'zod';
import { EngineStatsSchema, EngineStatusSchema, LogLineSchema, SeenAppSchema, type Disposer } from './engine-api.js';
import { DoctorReportSchema } from './doctor.js';
import { ERRORS, PinholeError, isErrorCode, toWire, type ErrorCode, type WireError } from './errors.js';
import { AppActionSchema, EndpointSchema, ProfileSchema, TransportSchema, TrustSchema, UpstreamProxySchema } from './profile.js';

/** Largest message either side accepts (a call's input, a result, an event), as JSON text. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

const Empty = z.object({}).strict();
const Id = z.string().min(1).max(200);
const LinkText = z.string().min(1).max(16 * 1024);

/** A profile as the UI sees it: never a secret, only whether one is stored. */
export const ProfileViewSchema = ProfileSchema.extend({
  isDefault: z.boolean(),
  hasPassword: z.boolean(),
});
export type ProfileView = z.infer<typeof ProfileViewSchema>;

export const ProfileListSchema = z.object({ profiles: z.array(ProfileViewSchema), defaultId: z.string().nullable() });
export type ProfileList = z.infer<typeof ProfileListSchema>;

/** What a pasted link would create, shown before saving (the secret stays out). */
export const LinkPreviewSchema = z.object({
  name: z.string(),
  endpoints: z.array(EndpointSchema),
  serverName: z.string(),
  user: z.string(),
  pin: z.string().optional(),
  transport: TransportSchema,
  domains: z.array(z.string()),
  /** A profile with the same server and user already exists and would be updated. */
  existingId: z.string().optional(),
});
export type LinkPreview = z.infer<typeof LinkPreviewSchema>;

/** A profile from the manual form (plain stunnel + Squid servers, or editing an existing one). */
export const ProfileDraftSchema = z.object({
  id: Id.optional(),
  name: z.string().trim().min(1).max(100),
  endpoints: z.array(EndpointSchema).min(1).max(16),
  serverName: z.string().trim().min(1).max(253),
  trust: TrustSchema,
  user: z.string().min(1).max(200),
  transport: TransportSchema.default('h2'),
  wsPath: z.string().startsWith('/').max(200).optional(),
  domains: z.array(z.string().min(1).max(253)).max(1000).default([]),
  upstreamProxy: UpstreamProxySchema.optional(),
  /** Goes straight to the keychain; never stored in the profile, never returned. */
  password: z.string().min(1).max(1024).optional(),
});
export type ProfileDraft = z.input<typeof ProfileDraftSchema>;

export const AppViewSchema = SeenAppSchema.extend({ action: AppActionSchema, ruled: z.boolean() });
export type AppView = z.infer<typeof AppViewSchema>;
export const AppListSchema = z.object({ apps: z.array(AppViewSchema), defaultAction: AppActionSchema });
export type AppList = z.infer<typeof AppListSchema>;

export const THEMES = ['system', 'light', 'dark'] as const;
/** The languages the catalogues ship (shared/i18n). */
export const LANGUAGES = ['en', 'zh-CN', 'es'] as const;
/** The language setting: one of LANGUAGES, or 'system' to follow the OS / browser languages. */
export const LANGUAGE_SETTINGS = ['system', ...LANGUAGES] as const;

/** The settings the UI edits: the profile store's settings (shared/settings.ts) less the default profile; unknown keys are refused. */
export const UiSettingsSchema = z.object({
  /** Local proxy port on 127.0.0.1; 0 picks a free one. */
  localPort: z.number().int().min(0).max(65535),
  systemProxyOnConnect: z.boolean(),
  proxyMode: z.enum(['pac', 'manual']),
  /** Extra hosts that bypass the system proxy (loopback and local networks always do). */
  bypass: z.array(z.string().min(1).max(253)).max(500),
  startAtLogin: z.boolean(),
  connectAtStart: z.boolean(),
  /** Corporate proxy in front of the gateway, "host:port" (its password, if any, is in the keychain); "" for none. */
  upstreamProxy: z.string().max(300),
  theme: z.enum(THEMES),
  /** 'system' follows the OS / browser languages; an explicit choice (stored by earlier versions too) wins. */
  language: z.enum(LANGUAGE_SETTINGS),
});
export type UiSettings = z.infer<typeof UiSettingsSchema>;
export const UiSettingsPatchSchema = UiSettingsSchema.partial().strict();
export type UiSettingsPatch = z.infer<typeof UiSettingsPatchSchema>;

/** Where passwords go; `available` is false while no keychain answers and no secrets file is open. */
export const KeychainInfoSchema = z.object({
  kind: z.string(),
  location: z.string(),
  available: z.boolean().default(true),
  /** The passphrase-encrypted secrets file in use, if any. */
  file: z.string().optional(),
  /** Where a new secrets file would go (the UI's suggestion). */
  suggestedFile: z.string().optional(),
});
export type KeychainInfo = z.infer<typeof KeychainInfoSchema>;

export const InfoSchema = z.object({
  version: z.string(),
  keychain: KeychainInfoSchema,
  /** "127.0.0.1:PORT" while connected, else the configured address. */
  proxyAddress: z.string(),
  shellExport: z.string(),
  platform: z.string(),
});
export type Info = z.infer<typeof InfoSchema>;

const cmd = <I extends z.ZodType, O extends z.ZodType>(input: I, output: O) => ({ input, output });

export const contract = {
  commands: {
    listProfiles: cmd(Empty, ProfileListSchema),
    previewLink: cmd(z.object({ link: LinkText }).strict(), LinkPreviewSchema),
    importLink: cmd(z.object({ link: LinkText, name: z.string().trim().min(1).max(100).optional() }).strict(), ProfileViewSchema),
    saveProfile: cmd(ProfileDraftSchema.strict(), ProfileViewSchema),
    deleteProfile: cmd(z.object({ id: Id }).strict(), Empty),
    setDefaultProfile: cmd(z.object({ id: Id }).strict(), Empty),
    setCredentials: cmd(
      z.object({ id: Id, user: z.string().min(1).max(200), password: z.string().min(1).max(1024) }).strict(),
      z.object({ storedIn: z.string() }),
    ),
    clearCredentials: cmd(z.object({ id: Id }).strict(), Empty),
    connect: cmd(z.object({ profileId: Id.optional() }).strict(), EngineStatusSchema),
    /** Connects with a pasted link for this session only: nothing is saved, the password stays in memory. */
    connectLink: cmd(z.object({ link: LinkText }).strict(), EngineStatusSchema),
    /** Keeps passwords in a passphrase-encrypted file (opened, or created when missing) from now on. */
    useSecretsFile: cmd(z.object({ file: z.string().trim().min(1).max(4096), passphrase: z.string().min(1).max(1024) }).strict(), InfoSchema),
    /** Asks the system keychain again (a keyring started after Pinhole). */
    retryKeychain: cmd(Empty, InfoSchema),
    disconnect: cmd(Empty, EngineStatusSchema),
    getStatus: cmd(Empty, EngineStatusSchema),
    getStats: cmd(Empty, EngineStatsSchema),
    getLog: cmd(z.object({ after: z.number().int().nonnegative().optional() }).strict(), z.object({ lines: z.array(LogLineSchema) })),
    getApps: cmd(Empty, AppListSchema),
    setAppRule: cmd(z.object({ path: z.string().min(1).max(4096), action: AppActionSchema }).strict(), AppListSchema),
    setDefaultAppAction: cmd(z.object({ action: AppActionSchema }).strict(), AppListSchema),
    getSettings: cmd(Empty, UiSettingsSchema),
    setSettings: cmd(UiSettingsPatchSchema, UiSettingsSchema),
    exportLogs: cmd(Empty, z.object({ filename: z.string(), text: z.string() })),
    /** The path check (`pinhole doctor`) for a profile (default: the connected one, else the default one). */
    checkConnection: cmd(z.object({ profileId: Id.optional(), destination: z.string().trim().min(1).max(300).optional() }).strict(), DoctorReportSchema),
    /** The diagnostics bundle (.tar.gz, base64) with every secret removed. */
    exportDiagnostics: cmd(Empty, z.object({ filename: z.string(), base64: z.string() })),
    getInfo: cmd(Empty, InfoSchema),
  },
  events: {
    status: EngineStatusSchema,
    stats: EngineStatsSchema,
    log: LogLineSchema,
    apps: AppListSchema,
    settings: UiSettingsSchema,
    profiles: ProfileListSchema,
    /** A pinhole:// link arrived from outside (protocol handler, second launch): show its preview. */
    link: z.object({ link: LinkText }),
  },
} as const;

export type Contract = typeof contract;
export type CommandName = keyof Contract['commands'];
export type EventName = keyof Contract['events'];
export type CommandInput<K extends CommandName> = z.input<Contract['commands'][K]['input']>;
export type CommandArgs<K extends CommandName> = z.output<Contract['commands'][K]['input']>;
export type CommandOutput<K extends CommandName> = z.output<Contract['commands'][K]['output']>;
/** What a handler may return (before defaults are applied by the output schema). */
export type CommandResult<K extends CommandName> = z.input<Contract['commands'][K]['output']>;
export type EventPayload<K extends EventName> = z.output<Contract['events'][K]>;

export const COMMAND_NAMES = Object.keys(contract.commands) as CommandName[];
export const EVENT_NAMES = Object.keys(contract.events) as EventName[];

const has = (record: object, key: unknown): boolean => typeof key === 'string' && Object.prototype.hasOwnProperty.call(record, key);
export const isCommandName = (name: unknown): name is CommandName => has(contract.commands, name);
export const isEventName = (name: unknown): name is EventName => has(contract.events, name);

const invalid = (message: string): PinholeError => new PinholeError('PINHOLE_CONTRACT_INVALID', message);

/** Size of a value as JSON text (UTF-16 length is an upper bound of what matters here). */
const jsonSize = (value: unknown): number => {
  try {
    return JSON.stringify(value ?? null).length;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
};

const describeIssues = (error: z.ZodError): string =>
  error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'input'}: ${issue.message}`)
    .join('; ');

/** Validates a call's input, throwing PINHOLE_CONTRACT_INVALID with a readable reason. */
export const parseInput = <K extends CommandName>(name: K, input: unknown): CommandArgs<K> => {
  if (jsonSize(input) > MAX_MESSAGE_BYTES) throw invalid(`The input of ${name} is larger than ${MAX_MESSAGE_BYTES} bytes.`);
  const parsed = contract.commands[name].input.safeParse(input ?? {});
  if (!parsed.success) throw invalid(`Wrong input for ${name}: ${describeIssues(parsed.error)}.`);
  return parsed.data as CommandArgs<K>;
};

export const parseOutput = <K extends CommandName>(name: K, output: unknown): CommandOutput<K> => {
  const parsed = contract.commands[name].output.safeParse(output);
  if (!parsed.success) throw invalid(`Wrong result from ${name}: ${describeIssues(parsed.error)}.`);
  return parsed.data as CommandOutput<K>;
};

export const parseEvent = <K extends EventName>(name: K, payload: unknown): EventPayload<K> => {
  const parsed = contract.events[name].safeParse(payload);
  if (!parsed.success) throw invalid(`Wrong payload for event ${name}: ${describeIssues(parsed.error)}.`);
  return parsed.data as EventPayload<K>;
};

// ---------------------------------------------------------------------------------------------
// Server side: handlers in, a dispatch function out that both transports call.

export type Handlers = { [K in CommandName]: (input: CommandArgs<K>) => Promise<CommandResult<K>> | CommandResult<K> };

export type Reply = { ok: true; result: unknown } | { ok: false; error: WireError };

export const WireErrorShape = z.object({ code: z.string(), message: z.string() });

const wire = (error: unknown): WireError => {
  const out = toWire(error);
  return isErrorCode(out.code) ? out : { code: 'PINHOLE_INTERNAL', message: ERRORS.PINHOLE_INTERNAL.sentence };
};

/**
 * Validates the command name and input, runs the handler, validates its result. Nothing runs
 * for an unknown command, a wrong input or a payload over MAX_MESSAGE_BYTES.
 */
export const createDispatcher =
  (handlers: Handlers) =>
  async (name: unknown, input: unknown): Promise<Reply> => {
    try {
      if (!isCommandName(name)) throw invalid(`Unknown command ${JSON.stringify(String(name).slice(0, 60))}.`);
      const args = parseInput(name, input);
      const handler = handlers[name] as (value: unknown) => unknown;
      const result = await handler(args);
      const output = parseOutput(name, result);
      if (jsonSize(output) > MAX_MESSAGE_BYTES) throw invalid(`The result of ${name} is larger than ${MAX_MESSAGE_BYTES} bytes.`);
      return { ok: true, result: output };
    } catch (error) {
      return { ok: false, error: wire(error) };
    }
  };

export type Dispatch = ReturnType<typeof createDispatcher>;

/** What a server transport offers: it routes calls to `dispatch` and fans events out. */
export interface ServerTransport {
  serve(dispatch: Dispatch): Disposer;
  publish(event: EventName, payload: unknown): void;
}

export interface ContractServer {
  dispatch: Dispatch;
  /** Validates and sends an event to every connected UI. */
  emit<K extends EventName>(event: K, payload: z.input<Contract['events'][K]>): void;
  dispose(): void;
}

export const createServer = (handlers: Handlers, transport: ServerTransport): ContractServer => {
  const dispatch = createDispatcher(handlers);
  const stop = transport.serve(dispatch);
  return {
    dispatch,
    emit(event, payload) {
      transport.publish(event, parseEvent(event, payload));
    },
    dispose: stop,
  };
};

// ---------------------------------------------------------------------------------------------
// Client side: a transport in, a typed object out.

export interface ClientTransport {
  invoke(name: CommandName, input: unknown): Promise<Reply>;
  subscribe(event: EventName, listener: (payload: unknown) => void): Disposer;
}

export type Client = { [K in CommandName]: (input?: CommandInput<K>) => Promise<CommandOutput<K>> } & {
  on<K extends EventName>(event: K, listener: (payload: EventPayload<K>) => void): Disposer;
};

/** The error a client call rejects with: a PinholeError carrying the server's code and sentence. */
export const errorFromReply = (error: unknown): PinholeError => {
  const parsed = WireErrorShape.safeParse(error);
  if (!parsed.success) return new PinholeError('PINHOLE_INTERNAL');
  const code: ErrorCode = isErrorCode(parsed.data.code) ? parsed.data.code : 'PINHOLE_INTERNAL';
  return new PinholeError(code, parsed.data.message);
};

export const createClient = (transport: ClientTransport): Client => {
  const client: Record<string, unknown> = {};
  for (const name of COMMAND_NAMES) {
    client[name] = async (input: unknown = {}) => {
      const reply = await transport.invoke(name, input);
      if (!reply.ok) throw errorFromReply(reply.error);
      return parseOutput(name, reply.result);
    };
  }
  client.on = (event: EventName, listener: (payload: unknown) => void): Disposer => {
    if (!isEventName(event)) throw invalid(`Unknown event ${String(event)}.`);
    return transport.subscribe(event, (payload) => {
      const parsed = contract.events[event].safeParse(payload);
      if (parsed.success) listener(parsed.data);
    });
  };
  return client as Client;
};

// ---------------------------------------------------------------------------------------------
// Frames on a message channel (the console WebSocket): one JSON object per message.

export const FrameSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('call'), id: z.number().int().nonnegative(), name: z.string().max(100), input: z.unknown().optional() }),
  z.object({ t: z.literal('reply'), id: z.number().int().nonnegative(), ok: z.boolean(), result: z.unknown().optional(), error: z.unknown().optional() }),
  z.object({ t: z.literal('event'), name: z.string().max(100), payload: z.unknown().optional() }),
]);
export type Frame = z.infer<typeof FrameSchema>;

/** Parses one message; oversized or malformed text is PINHOLE_CONTRACT_INVALID. */
export const parseFrame = (text: string): Frame => {
  if (text.length > MAX_MESSAGE_BYTES) throw invalid(`The message is larger than ${MAX_MESSAGE_BYTES} bytes.`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('The message is not JSON.');
  }
  const parsed = FrameSchema.safeParse(value);
  if (!parsed.success) throw invalid(`The message is not a contract frame: ${describeIssues(parsed.error)}.`);
  return parsed.data;
};

const toWireShape = (error: unknown): WireError => {
  const e = errorFromReply(error);
  return { code: e.code, message: e.message };
};

/** A client transport over any message channel (WebSocket in the console, a MessagePort...). */
export const createFrameClientTransport = (channel: {
  send(text: string): void;
  onMessage(listener: (text: string) => void): Disposer;
}): ClientTransport & { dispose: Disposer } => {
  let nextId = 1;
  const pending = new Map<number, (reply: Reply) => void>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const stop = channel.onMessage((text) => {
    let frame: Frame;
    try {
      frame = parseFrame(text);
    } catch {
      return;
    }
    if (frame.t === 'reply') {
      const resolve = pending.get(frame.id);
      pending.delete(frame.id);
      resolve?.(frame.ok ? { ok: true, result: frame.result } : { ok: false, error: toWireShape(frame.error) });
    } else if (frame.t === 'event') {
      for (const listener of listeners.get(frame.name) ?? []) listener(frame.payload);
    }
  });
  return {
    invoke(name, input) {
      const id = nextId++;
      return new Promise<Reply>((resolve) => {
        pending.set(id, resolve);
        try {
          channel.send(JSON.stringify({ t: 'call', id, name, input }));
        } catch (error) {
          pending.delete(id);
          resolve({ ok: false, error: wire(error) });
        }
      });
    },
    subscribe(event, listener) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener);
      listeners.set(event, set);
      return () => set.delete(listener);
    },
    dispose() {
      stop();
      for (const resolve of pending.values()) resolve({ ok: false, error: { code: 'PINHOLE_INTERNAL', message: 'The connection to Pinhole was closed.' } });
      pending.clear();
    },
  };
};

/** Answers one call frame from a channel with a reply frame (the server half of the above). */
export const answerFrame = async (dispatch: Dispatch, text: string): Promise<string | undefined> => {
  let frame: Frame;
  try {
    frame = parseFrame(text);
  } catch (error) {
    return JSON.stringify({ t: 'reply', id: 0, ok: false, error: wire(error) });
  }
  if (frame.t !== 'call') return JSON.stringify({ t: 'reply', id: 0, ok: false, error: wire(invalid('Only calls may be sent to Pinhole.')) });
  const reply = await dispatch(frame.name, frame.input);
  return JSON.stringify(reply.ok ? { t: 'reply', id: frame.id, ok: true, result: reply.result } : { t: 'reply', id: frame.id, ok: false, error: reply.error });
};

export const eventFrame = (name: EventName, payload: unknown): string => JSON.stringify({ t: 'event', name, payload });
