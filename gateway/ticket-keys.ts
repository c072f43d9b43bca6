/**
 * Shared TLS session-ticket keys (`--ticket-keys FILE`), so a ticket issued by one gateway of a
 * fleet resumes on any other. The file holds one or more 48-byte keys, base64, one a line (`#`
 * comments allowed): the first encrypts new tickets, every one decrypts. Node's `ticketKeys` takes
 * exactly one 48-byte key (16 bytes of name, 16 of HMAC key, 16 of AES key) and refuses tickets
 * with another name, so the gateway keeps one TLS server per key and hands each connection to the
 * server whose key name its ClientHello's ticket carries (`ClientHello.ticketKeyName`).
 */
import { formatKeyFile, parseKeyFile, readKeyFile, rotateKeyFile, type KeyFileKind } from './rotating-keys.js';
import { parseClientHello } from './sniff/client-hello.js';

export const TICKET_KEY_BYTES = 48;
const KEY_NAME_BYTES = 16;
/** Keys kept by `rotate`: the new one and the two before it (tickets live hours, not days). */
export const ROTATE_KEEP = 3;

export const TICKET_KEYS: KeyFileKind = {
  what: 'the ticket-keys file',
  name: 'TLS session-ticket keys',
  keyBytes: TICKET_KEY_BYTES,
  command: 'pinhole-gateway ticket-keys rotate',
  roles: 'the first encrypts, all decrypt',
};

/** The keys in a ticket-keys file's text; throws PINHOLE_FILE_INVALID naming the file and the bad line. */
export const parseTicketKeys = (text: string, file?: string): Buffer[] => parseKeyFile(TICKET_KEYS, text, file);

export const readTicketKeys = (file: string): Buffer[] => readKeyFile(TICKET_KEYS, file);

export const formatTicketKeys = (keys: readonly Buffer[]): string => formatKeyFile(TICKET_KEYS, keys);

/** A new first key, the previous ones kept to decrypt (up to `keep` in all); written atomically, mode 0600. */
export const rotateTicketKeys = (file: string, keep = ROTATE_KEEP): Promise<Buffer[]> => rotateKeyFile(TICKET_KEYS, file, keep);

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
