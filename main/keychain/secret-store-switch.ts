/**
 * The console's secret store on a machine that may have no keychain. It starts on the OS keychain
 * when one answers (or on the encrypted file given with --secrets-file); when none answers it
 * starts on nothing: reading finds no password, storing one is refused with what to do, and the
 * UI can switch it later to a passphrase-encrypted file or to a keyring started since. Nothing is
 * ever written in the clear, and a password that could not be stored is not kept either.
 */
import { join } from 'node:path';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { EncryptedFileStore, SECRETS_FILE_NAME } from './encrypted-file.js';
import type { SecretStore } from './secret-store.js';

/** Why a password cannot be stored yet, in the words the UI shows. */
export const NO_SECRET_STORE_SENTENCE =
  'No system keychain answers, so the password cannot be stored. Start a keyring and try again, or choose a passphrase-encrypted secrets file; until then a link can still be used for this session (its password kept in memory only).';

export interface SecretStoreSwitchOptions {
  /** Opens the store to start on: the OS keychain (probed) or the file named on the command line. */
  open: () => Promise<SecretStore>;
  /** Probes the OS keychain again (a keyring started after Pinhole). */
  probeKeychain: () => Promise<SecretStore>;
  /** The profile store's folder: where a new secrets file is suggested. */
  configDir: string;
  logger?: Logger;
}

export interface SecretStoreState {
  /** False while no keychain answers and no secrets file is open. */
  available: boolean;
  kind: string;
  location: string;
  /** The open encrypted file, if that is where secrets go. */
  file?: string;
  /** Where the UI suggests a new secrets file. */
  suggestedFile: string;
}

export class SecretStoreSwitch implements SecretStore {
  private constructor(
    private current: SecretStore | undefined,
    private readonly options: SecretStoreSwitchOptions,
  ) {}

  /** Starts on `open()`; a keychain that does not answer leaves it on nothing, any other failure throws. */
  static async start(options: SecretStoreSwitchOptions): Promise<SecretStoreSwitch> {
    try {
      return new SecretStoreSwitch(await options.open(), options);
    } catch (error) {
      if (!(error instanceof PinholeError) || error.code !== 'PINHOLE_KEYCHAIN_UNAVAILABLE') throw error;
      options.logger?.warn({ code: error.code, ...(error.details ?? {}) }, 'No system keychain answers; passwords can be used for this session only until a keyring or a secrets file is chosen.');
      return new SecretStoreSwitch(undefined, options);
    }
  }

  get kind(): string {
    return this.current?.kind ?? 'none';
  }

  get location(): string {
    return this.current?.location ?? 'nowhere yet: no keychain answers';
  }

  state(): SecretStoreState {
    const file = this.current instanceof EncryptedFileStore ? this.current.file : undefined;
    return {
      available: this.current !== undefined,
      kind: this.kind,
      location: this.location,
      ...(file ? { file } : {}),
      suggestedFile: join(this.options.configDir, SECRETS_FILE_NAME),
    };
  }

  /** Opens (or creates) a passphrase-encrypted secrets file and keeps every secret there from now on. */
  async useFile(file: string, passphrase: string): Promise<void> {
    if (!file.trim()) throw new PinholeError('PINHOLE_USAGE', 'Give the path of the secrets file.');
    if (!passphrase) throw new PinholeError('PINHOLE_USAGE', 'Give the passphrase of the secrets file.');
    const store = await EncryptedFileStore.open({ file: file.trim(), passphrase });
    this.current = store;
    this.options.logger?.info({ file: store.file }, 'Secrets are now kept in a passphrase-encrypted file.');
  }

  /** Asks the OS keychain again; throws PINHOLE_KEYCHAIN_UNAVAILABLE while it still does not answer. */
  async retryKeychain(): Promise<void> {
    this.current = await this.options.probeKeychain();
    this.options.logger?.info({ kind: this.current.kind }, 'The system keychain answers; passwords are stored there from now on.');
  }

  get(ref: string): Promise<string | undefined> {
    return this.current ? this.current.get(ref) : Promise.resolve(undefined);
  }

  set(ref: string, secret: string): Promise<void> {
    if (!this.current) return Promise.reject(new PinholeError('PINHOLE_KEYCHAIN_UNAVAILABLE', NO_SECRET_STORE_SENTENCE));
    return this.current.set(ref, secret);
  }

  delete(ref: string): Promise<boolean> {
    return this.current ? this.current.delete(ref) : Promise.resolve(false);
  }
}
