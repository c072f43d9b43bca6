/**
 * The `revoked` file in the gateway's directory: the deny list of one gateway without Redis (and
 * of the gateway the CLI runs beside, with Redis too, so a revocation holds there even while Redis
 * is away). `pinhole-gateway revoke` writes it; the running gateway re-reads it when it changes.
 */
import { readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unreadableFile, unwritableFile } from '../../node/startup-files.js';
import { parseRevocations, formatRevocations, revocationKey, type ParsedRevocations, type Revocation, type RevocationTarget } from './revocation-list.js';

const WHAT = 'the revoked file';

export const revokedFileOf = (dir: string): string => join(dir, 'revoked');

/** The file's entries (none when it does not exist yet). */
export function readRevokedFile(file: string): ParsedRevocations {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], badLines: [] };
    throw unreadableFile(err, file, WHAT);
  }
  return parseRevocations(text);
}

/** Rewrite the file with `change` applied, expired entries dropped; atomic, mode 0600. */
async function rewrite(file: string, change: (entries: Map<string, Revocation>) => void, now = Date.now()): Promise<void> {
  const entries = new Map<string, Revocation>();
  for (const e of readRevokedFile(file).entries) if (e.until > now) entries.set(revocationKey(e), e);
  change(entries);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, formatRevocations(entries.values()), { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw unwritableFile(err, file, WHAT);
  }
}

export const addToRevokedFile = (file: string, entry: Revocation): Promise<void> =>
  rewrite(file, (entries) => {
    const key = revocationKey(entry);
    const held = entries.get(key);
    if (held === undefined || held.until < entry.until) entries.set(key, entry);
  });

export const removeFromRevokedFile = (file: string, target: RevocationTarget): Promise<void> => rewrite(file, (entries) => void entries.delete(revocationKey(target)));
