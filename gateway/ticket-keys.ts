/**
 * Shared TLS session-ticket keys (`--ticket-keys FILE`), so a ticket issued by one gateway of a
 * fleet resumes on any other. The file holds one or more 48-byte keys, base64, one a line (`#`
 * comments allowed): the first encrypts new tickets, every one decrypts. Node's `ticketKeys` takes
 * exactly one 48-byte key (16 bytes of name, 16 of HMAC key, 16 of AES key) and refuses tickets
 * with another name, so the gateway keeps one TLS server per key and hands each connection to the
 * server whose key name its ClientHello's ticket carries (`ClientHello.ticketKeyName`).
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { invalidFile, readStartupFile, unreadableFile } from '../node/startup-files.js';
import { parseClientHello } from './sniff/client-hello.js';

const WHAT = 'the ticket-keys file';
export const TICKET_KEY_BYTES = 48;
const KEY_NAME_BYTES = 16;
/** Keys kept by `rotate`: the new one and the two before it (tickets live hours, not days). */
export const ROTATE_KEEP = 3;

/** The keys in a ticket-keys file's text; throws PINHOLE_FILE_INVALID naming the file and the bad line. */
export function parseTicketKeys(text: string, file = '(unnamed)'): Buffer[] {
  const keys: Buffer[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(line) ? Buffer.from(line, 'base64') : undefined;
    if (key?.length !== TICKET_KEY_BYTES) {
      throw invalidFile(file, WHAT, `a key must be ${TICKET_KEY_BYTES} bytes in base64 (make one with: pinhole-gateway ticket-keys rotate --file FILE).`, { line: i + 1 });
    }
    keys.push(key);
  });
  if (keys.length === 0) throw invalidFile(file, WHAT, 'it holds no key (make one with: pinhole-gateway ticket-keys rotate --file FILE).');
  return keys;
}

export const readTicketKeys = (file: string): Buffer[] => parseTicketKeys(readStartupFile(file, WHAT).toString('utf8'), file);

export const formatTicketKeys = (keys: readonly Buffer[]): string =>
  `# Pinhole TLS session-ticket keys: the first encrypts, all decrypt. Rotate with: pinhole-gateway ticket-keys rotate --file FILE\n${keys.map((k) => k.toString('base64')).join('\n')}\n`;

/** A new first key, the previous ones kept to decrypt (up to `keep` in all); written atomically, mode 0600. */
export async function rotateTicketKeys(file: string, keep = ROTATE_KEEP): Promise<Buffer[]> {
  let old: Buffer[] = [];
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw unreadableFile(err, file, WHAT);
  });
  if (text !== undefined) old = parseTicketKeys(text, file);
  const keys = [randomBytes(TICKET_KEY_BYTES), ...old].slice(0, Math.max(1, keep));
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, formatTicketKeys(keys), { mode: 0o600 });
  await rename(temporary, file);
  return keys;
}

export const keyNameOf = (key: Buffer): string => key.subarray(0, KEY_NAME_BYTES).toString('hex');

/**
 * The key name (hex) of the session ticket a ClientHello offers (client-hello.ts reads it);
 * `undefined` when there is none or the hello is not whole in `bytes` (the connection then gets
 * the first key's server: at worst a full handshake).
 */
export function ticketKeyNameOf(bytes: Buffer): string | undefined {
  const parsed = parseClientHello(bytes);
  return parsed.kind === 'hello' ? parsed.hello.ticketKeyName : undefined;
}
