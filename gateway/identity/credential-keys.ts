/**
 * The fleet's tunnel-credential keys (`identity.credentialKeys` in gateway.yaml), distributed like
 * the ticket keys: one or more 32-byte HMAC keys, base64, one a line (`#` comments allowed); the
 * first signs new credentials, every one verifies, so a rotation keeps credentials signed with the
 * previous key working until they expire. Each key's id (`kid`) is a hash of it.
 */
import { createHash } from 'node:crypto';
import { parseKeyFile, readKeyFile, rotateKeyFile, type KeyFileKind } from '../rotating-keys.js';

export const CREDENTIAL_KEY_BYTES = 32;
/** Keys kept by `rotate`: the new one and the two before it (credentials live hours). */
export const CREDENTIAL_KEYS_KEEP = 3;

export const CREDENTIAL_KEYS: KeyFileKind = {
  what: 'the credential-keys file',
  name: 'tunnel-credential keys',
  keyBytes: CREDENTIAL_KEY_BYTES,
  command: 'pinhole-gateway credential-keys rotate',
  roles: 'the first signs, all verify',
};

export interface CredentialKey {
  readonly kid: string;
  readonly secret: Uint8Array;
}

export const keyIdOf = (secret: Uint8Array): string => createHash('sha256').update(secret).digest('base64url').slice(0, 16);

export const credentialKeyOf = (secret: Buffer): CredentialKey => ({ kid: keyIdOf(secret), secret: new Uint8Array(secret) });

/** The keys in a credential-keys file's text; throws PINHOLE_FILE_INVALID naming the file and the bad line. */
export const parseCredentialKeys = (text: string, file?: string): CredentialKey[] => parseKeyFile(CREDENTIAL_KEYS, text, file).map(credentialKeyOf);

export const readCredentialKeys = (file: string): CredentialKey[] => readKeyFile(CREDENTIAL_KEYS, file).map(credentialKeyOf);

/** A new first key, the previous ones kept to verify (up to `keep` in all); written atomically, mode 0600. */
export const rotateCredentialKeys = async (file: string, keep = CREDENTIAL_KEYS_KEEP): Promise<CredentialKey[]> => (await rotateKeyFile(CREDENTIAL_KEYS, file, keep)).map(credentialKeyOf);
