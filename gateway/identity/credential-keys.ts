/**
 * The fleet's tunnel-credential keys (`identity.credentialKeys` in gateway.yaml), distributed like
 * the ticket keys: one or more 32-byte HMAC keys, base64, one a line (`#` comments allowed); the
 * first signs new credentials, every one verifies, so a rotation keeps credentials signed with the
 * previous key working until they expire. Each key's id (`kid`) is a hash of it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { invalidFile, readStartupFile, unreadableFile } from '../../node/startup-files.js';

const WHAT = 'the credential-keys file';
export const CREDENTIAL_KEY_BYTES = 32;
/** Keys kept by `rotate`: the new one and the two before it (credentials live hours). */
export const CREDENTIAL_KEYS_KEEP = 3;

export interface CredentialKey {
  readonly kid: string;
  readonly secret: Uint8Array;
}

export const keyIdOf = (secret: Uint8Array): string => createHash('sha256').update(secret).digest('base64url').slice(0, 16);

/** The keys in a credential-keys file's text; throws PINHOLE_FILE_INVALID naming the file and the bad line. */
export function parseCredentialKeys(text: string, file = '(unnamed)'): CredentialKey[] {
  const keys: CredentialKey[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const secret = /^[A-Za-z0-9+/]+={0,2}$/.test(line) ? Buffer.from(line, 'base64') : undefined;
    if (secret?.length !== CREDENTIAL_KEY_BYTES) {
      throw invalidFile(file, WHAT, `a key must be ${CREDENTIAL_KEY_BYTES} bytes in base64 (make one with: pinhole-gateway credential-keys rotate --file FILE).`, { line: i + 1 });
    }
    keys.push({ kid: keyIdOf(secret), secret: new Uint8Array(secret) });
  });
  if (keys.length === 0) throw invalidFile(file, WHAT, 'it holds no key (make one with: pinhole-gateway credential-keys rotate --file FILE).');
  return keys;
}

export const readCredentialKeys = (file: string): CredentialKey[] => parseCredentialKeys(readStartupFile(file, WHAT).toString('utf8'), file);

const formatCredentialKeys = (keys: readonly CredentialKey[]): string =>
  `# Pinhole tunnel-credential keys: the first signs, all verify. Rotate with: pinhole-gateway credential-keys rotate --file FILE\n${keys.map((k) => Buffer.from(k.secret).toString('base64')).join('\n')}\n`;

/** A new first key, the previous ones kept to verify (up to `keep` in all); written atomically, mode 0600. */
export async function rotateCredentialKeys(file: string, keep = CREDENTIAL_KEYS_KEEP): Promise<CredentialKey[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw unreadableFile(err, file, WHAT);
  });
  const old = text === undefined ? [] : parseCredentialKeys(text, file);
  const secret = new Uint8Array(randomBytes(CREDENTIAL_KEY_BYTES));
  const keys = [{ kid: keyIdOf(secret), secret }, ...old].slice(0, Math.max(1, keep));
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, formatCredentialKeys(keys), { mode: 0o600 });
  await rename(temporary, file);
  return keys;
}
