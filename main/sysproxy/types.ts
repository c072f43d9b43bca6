/**
 * The one interface every operating system's proxy settings sit behind. An adapter sees the
 * settings as a flat map of named fields (a gsettings key, a registry value, one networksetup
 * setting of one network service) holding opaque text, so the crash-safe bookkeeping in
 * `state.ts` can compare and restore field by field without knowing the platform.
 */

/** What Pinhole asks the system to use. */
export type ProxySettings =
  | { mode: 'manual'; host: string; port: number; bypass: string[] }
  | { mode: 'pac'; pacUrl: string };

/**
 * Field name -> value exactly as the platform reports it (`null`: the field is absent, e.g. a
 * registry value that does not exist). Values are compared as text, never interpreted outside
 * the adapter that produced them.
 */
export type ProxyFields = Record<string, string | null>;

export interface ProxySnapshot {
  /** The adapter that read it (`gnome`, `kde5`, `kde6`, `macos`, `windows`). */
  adapter: string;
  fields: ProxyFields;
}

export interface SystemProxyAdapter {
  /** Stable name, stored in the state file so a watchdog can rebuild the same adapter. */
  readonly name: string;
  /** Everything this adapter manages, read before Pinhole changes anything. */
  snapshot(): Promise<ProxySnapshot>;
  /** The same fields, read now (used to tell our values from somebody else's). */
  read(): Promise<ProxySnapshot>;
  /** The fields `apply` would write for these settings, given what is there now (pure). */
  plan(settings: ProxySettings, current: ProxySnapshot): ProxySnapshot;
  /** Point the system at Pinhole: `restore(plan(settings, await snapshot()))`. */
  apply(settings: ProxySettings): Promise<void>;
  /** Write exactly the fields in `snapshot` (a partial snapshot writes only those fields). */
  restore(snapshot: ProxySnapshot): Promise<void>;
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/**
 * Runs one program with an argument array (never a shell string) and resolves with its output;
 * rejects when the program cannot start or exits non-zero. Passed into every adapter so tests
 * can replay recorded output.
 */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandOutput>;
