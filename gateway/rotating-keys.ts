/**
 * A fleet's rotating key file, one logic for every kind (the TLS session-ticket keys, the
 * tunnel-credential keys): keys of a fixed size, base64, one a line (`#` comments allowed); the
 * first signs or encrypts, every one verifies or decrypts, so a rotation keeps what the previous
 * key made working until it lapses. `rotate` writes a new first key atomically (mode 0600) keeping
 * the previous ones; a running gateway follows the file (`RotatingKeys`), and a bad file keeps the
 * keys in use.
 */
import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Logger } from '../shared/log.js';
import { invalidFile, readStartupFile, unreadableFile } from '../node/startup-files.js';

export interface KeyFileKind {
  /** How errors name the file: "the ticket-keys file". */
  readonly what: string;
  /** How log lines name the keys: "TLS session-ticket keys". */
  readonly name: string;
  readonly keyBytes: number;
  /** The command that makes or rotates one: "pinhole-gateway ticket-keys rotate". */
  readonly command: string;
  /** What the first key does, and the rest: "the first encrypts, all decrypt". */
  readonly roles: string;
}

/** The keys in a key file's text; throws PINHOLE_FILE_INVALID naming the file and the bad line. */
export function parseKeyFile(kind: KeyFileKind, text: string, file = '(unnamed)'): Buffer[] {
  const keys: Buffer[] = [];
  const make = `make one with: ${kind.command} --file FILE`;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(line) ? Buffer.from(line, 'base64') : undefined;
    if (key?.length !== kind.keyBytes) throw invalidFile(file, kind.what, `a key must be ${kind.keyBytes} bytes in base64 (${make}).`, { line: i + 1 });
    keys.push(key);
  });
  if (keys.length === 0) throw invalidFile(file, kind.what, `it holds no key (${make}).`);
  return keys;
}

export const readKeyFile = (kind: KeyFileKind, file: string): Buffer[] => parseKeyFile(kind, readStartupFile(file, kind.what).toString('utf8'), file);

export const formatKeyFile = (kind: KeyFileKind, keys: readonly Buffer[]): string =>
  `# Pinhole ${kind.name}: ${kind.roles}. Rotate with: ${kind.command} --file FILE\n${keys.map((k) => k.toString('base64')).join('\n')}\n`;

/** A new first key, the previous ones kept (up to `keep` in all); written atomically, mode 0600. */
export async function rotateKeyFile(kind: KeyFileKind, file: string, keep: number): Promise<Buffer[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw unreadableFile(err, file, kind.what);
  });
  const old = text === undefined ? [] : parseKeyFile(kind, text, file);
  const keys = [randomBytes(kind.keyBytes), ...old].slice(0, Math.max(1, keep));
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, formatKeyFile(kind, keys), { mode: 0o600 });
  await rename(temporary, file);
  return keys;
}

/** A key file a running gateway follows: read at start (a bad file stops the start), re-read when it changes. */
export class RotatingKeys {
  private current: Buffer[];

  constructor(
    private readonly kind: KeyFileKind,
    readonly file: string,
    private readonly logger: Logger,
    /** Runs with the new keys after each good reload. */
    private readonly changed: (keys: readonly Buffer[]) => void = () => undefined,
  ) {
    this.current = readKeyFile(kind, file);
  }

  get keys(): readonly Buffer[] {
    return this.current;
  }

  /** Re-read the file: its first key leads from now on, all are kept. A bad file keeps the keys in use. */
  reload(): void {
    try {
      this.current = readKeyFile(this.kind, this.file);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, file: this.file }, `The ${this.kind.name} could not be reloaded; the previous ones stay.`);
      return;
    }
    this.changed(this.current);
    this.logger.info({ file: this.file, keys: this.current.length }, `The ${this.kind.name} were reloaded.`);
  }

  watch(intervalMs: number): void {
    watchFile(this.file, { interval: intervalMs }, () => this.reload());
  }

  unwatch(): void {
    unwatchFile(this.file);
  }
}
