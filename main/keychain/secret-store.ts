/**
 * Where a password is kept, as the rest of Pinhole sees it. Implemented by the OS keychain
 * (keychain.ts) and the opt-in passphrase-encrypted file (encrypted-file.ts); kept in its own
 * module so neither implementation imports the other to learn the interface.
 */
export interface SecretStore {
  get(ref: string): Promise<string | undefined>;
  set(ref: string, secret: string): Promise<void>;
  /** True when a secret was deleted, false when there was none. */
  delete(ref: string): Promise<boolean>;
  /** 'keychain' | 'secret-service' | 'encrypted-file' | ... */
  readonly kind: string;
  /** Where secrets live, as words for the UI: "in the GNOME Keyring (Secret Service)". */
  readonly location: string;
}
