/**
 * Where passwords live: the OS keychain (macOS Keychain, Windows Credential Manager, Linux Secret
 * Service) under the service name "pinhole", one account per reference (e.g. "profile:<id>").
 * When no keychain is reachable we say so and stop; the passphrase-encrypted file is an explicit
 * opt-in, never a silent fallback, and nothing is ever written in plain text.
 */
import { AsyncEntry, type EntryOptions } from '@napi-rs/keyring';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { EncryptedFileStore } from './encrypted-file.js';
import type { SecretStore } from './secret-store.js';

export const KEYCHAIN_SERVICE = 'pinhole';

/** The keychain account that holds a profile's password. */
export const profileSecretRef = (profileId: string): string => `profile:${profileId}`;

const PROBE_ACCOUNT = 'pinhole-probe';
const PROBE_TIMEOUT_MS = 5_000;

export const UNAVAILABLE_SENTENCE =
  'No system keychain is reachable (on Linux: no Secret Service such as GNOME Keyring or KWallet answers on the session D-Bus), so the password cannot be stored safely. ' +
  'Start a keyring in this session, or opt in to a passphrase-encrypted secrets file: `pinhole connect`, `pinhole profile` and `pinhole console` take --secrets-file FILE, with the passphrase in PINHOLE_SECRETS_PASSPHRASE.';

const osLocation = (platform: NodeJS.Platform, env: NodeJS.ProcessEnv): { kind: string; location: string } => {
  if (platform === 'darwin') return { kind: 'macos-keychain', location: 'in the macOS Keychain' };
  if (platform === 'win32') return { kind: 'windows-credential-manager', location: 'in the Windows Credential Manager' };
  const desktop = `${env.XDG_CURRENT_DESKTOP ?? ''}:${env.DESKTOP_SESSION ?? ''}`.toLowerCase();
  const provider = desktop.includes('kde') ? 'KWallet' : 'the GNOME Keyring';
  return { kind: 'secret-service', location: `in ${provider} (Secret Service)` };
};

const withTimeout = async <T>(work: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> => {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(controller.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`the keychain did not answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

export interface OsKeychainOptions {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  service?: string;
}

/** The OS keychain through @napi-rs/keyring. On Linux it is pinned to the Secret Service (never the kernel keyring). */
export class OsKeychain implements SecretStore {
  readonly kind: string;
  readonly location: string;
  private readonly service: string;
  private readonly options: EntryOptions;

  constructor({ platform = process.platform, env = process.env, service = KEYCHAIN_SERVICE }: OsKeychainOptions = {}) {
    const where = osLocation(platform, env);
    this.kind = where.kind;
    this.location = where.location;
    this.service = service;
    this.options = platform === 'linux' ? { linux: { store: 'secret-service' } } : {};
  }

  private entry(ref: string): AsyncEntry {
    if (!ref) throw new PinholeError('PINHOLE_INTERNAL', 'A keychain reference must not be empty.');
    return new AsyncEntry(this.service, ref, this.options);
  }

  private fail(error: unknown, action: string, ref: string): PinholeError {
    if (error instanceof PinholeError) return error;
    return new PinholeError('PINHOLE_KEYCHAIN_FAILED', `The system keychain could not ${action} the secret "${ref}".`, {
      cause: error,
      details: { ref, reason: error instanceof Error ? error.message : String(error) },
    });
  }

  async get(ref: string): Promise<string | undefined> {
    try {
      return (await this.entry(ref).getPassword()) ?? undefined;
    } catch (error) {
      throw this.fail(error, 'read', ref);
    }
  }

  async set(ref: string, secret: string): Promise<void> {
    try {
      await this.entry(ref).setPassword(secret);
    } catch (error) {
      throw this.fail(error, 'store', ref);
    }
  }

  async delete(ref: string): Promise<boolean> {
    try {
      return await this.entry(ref).deleteCredential();
    } catch (error) {
      throw this.fail(error, 'delete', ref);
    }
  }

  /** Reads a probe account: succeeds (null) when the keychain answers, throws PINHOLE_KEYCHAIN_UNAVAILABLE otherwise. */
  async probe(): Promise<void> {
    try {
      await withTimeout((signal) => this.entry(PROBE_ACCOUNT).getPassword(signal), PROBE_TIMEOUT_MS);
    } catch (error) {
      throw new PinholeError('PINHOLE_KEYCHAIN_UNAVAILABLE', UNAVAILABLE_SENTENCE, {
        cause: error,
        details: { kind: this.kind, reason: error instanceof Error ? error.message : String(error) },
      });
    }
  }
}

/** Throws PINHOLE_KEYCHAIN_UNAVAILABLE (with what to do instead) when the OS keychain cannot be reached. */
export const probeKeychain = async (options: OsKeychainOptions = {}): Promise<OsKeychain> => {
  const keychain = new OsKeychain(options);
  await keychain.probe();
  return keychain;
};

export interface OpenSecretStoreOptions extends OsKeychainOptions {
  /** Explicit opt-in to the passphrase-encrypted file instead of the OS keychain. */
  allowEncryptedFile?: boolean;
  passphrase?: string;
  /** Where the encrypted file lives (default: the profile store's folder). */
  configDir?: string;
  /** The encrypted file itself (`--secrets-file FILE`); implies the opt-in. */
  secretsFile?: string;
  logger?: Logger;
}

/**
 * The OS keychain, probed; or, only when `allowEncryptedFile` is set (or PINHOLE_SECRETS_PASSPHRASE
 * is given together with PINHOLE_SECRETS=encrypted-file), the passphrase-encrypted file.
 */
export const openSecretStore = async (options: OpenSecretStoreOptions = {}): Promise<SecretStore> => {
  const env = options.env ?? process.env;
  const optIn = options.secretsFile !== undefined || (options.allowEncryptedFile ?? env.PINHOLE_SECRETS === 'encrypted-file');
  if (optIn) {
    const passphrase = options.passphrase ?? env.PINHOLE_SECRETS_PASSPHRASE;
    if (!passphrase)
      throw new PinholeError('PINHOLE_USAGE', 'The encrypted secrets file needs a passphrase: set PINHOLE_SECRETS_PASSPHRASE.');
    const { configDir } = await import('../profiles/paths.js');
    const store = await EncryptedFileStore.open({ dir: options.configDir ?? configDir(env), ...(options.secretsFile ? { file: options.secretsFile } : {}), passphrase });
    options.logger?.warn({ file: store.file }, 'Secrets are kept in a passphrase-encrypted file because the keychain was opted out.');
    return store;
  }
  return probeKeychain(options);
};

export { EncryptedFileStore };
