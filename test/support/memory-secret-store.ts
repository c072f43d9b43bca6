/** An in-memory SecretStore for unit tests of code that stores passwords (never used by the product). */
import type { SecretStore } from '../../main/keychain/secret-store.js';

export class MemorySecretStore implements SecretStore {
  readonly kind = 'memory';
  readonly location = 'in memory (tests only)';
  readonly secrets = new Map<string, string>();
  get(ref: string): Promise<string | undefined> {
    return Promise.resolve(this.secrets.get(ref));
  }
  set(ref: string, secret: string): Promise<void> {
    this.secrets.set(ref, secret);
    return Promise.resolve();
  }
  delete(ref: string): Promise<boolean> {
    return Promise.resolve(this.secrets.delete(ref));
  }
}
