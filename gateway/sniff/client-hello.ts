/**
 * A TLS ClientHello parser over the bytes a connection has sent so far, for SNI routing.
 *
 * The hello may arrive split across TCP segments (answer 'again' until it is complete) and across
 * several TLS handshake records (record fragmentation, RFC 8446 5.1), and post-quantum key shares
 * (X25519MLKEM768, about 1.2 KiB) make it larger than one segment. The whole record stream that
 * carries the hello is capped at CLIENT_HELLO_MAX_BYTES; past that the answer is 'too-large',
 * never 'again'.
 *
 * SSLv2-compatible hellos (first byte with the high bit set) are answered 'sslv2', which the probe
 * treats as "not TLS": no client from this century sends them, and Node's TLS (OpenSSL 3) would
 * refuse them anyway, so they belong to the anyprot route, not to TLS termination.
 *
 * Values are reported as sent, GREASE included (Chromium's first supported version is one). With
 * Encrypted Client Hello the server name here is the outer, public name, which is what routing by
 * SNI can see, as in haproxy.
 */

export const CLIENT_HELLO_MAX_BYTES = 64 * 1024;
const MAX_RECORD = 16384;
const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;

export interface ClientHello {
  /** Record-layer version of the first record (0x0301 from most clients). */
  readonly recordVersion: number;
  /** legacy_version inside the hello (0x0303 for TLS 1.2 and 1.3). */
  readonly legacyVersion: number;
  /** supported_versions extension in client order, or [legacyVersion] without it. */
  readonly versions: number[];
  /** server_name (host_name) as sent, if any. */
  readonly serverName?: string;
  /** ALPN protocol names in client order (empty without the extension). */
  readonly alpn: string[];
  readonly cipherSuites: number;
  /** Extension types in the order sent. */
  readonly extensions: number[];
  /** Named groups of the key_share extension (0x11ec is X25519MLKEM768). */
  readonly keyShareGroups: number[];
  /** Handshake message length including its 4-byte header. */
  readonly length: number;
  /** How many TLS records carried the hello. */
  readonly records: number;
  /** Offset in the stream just after the hello's last byte. */
  readonly end: number;
  /**
   * The name (hex) of the key that encrypted the session ticket the hello offers: TLS 1.2's
   * session_ticket extension or TLS 1.3's first pre_shared_key identity, both of which start with
   * the 16-byte key name. The gateway hands the connection to the TLS server holding that key.
   */
  readonly ticketKeyName?: string;
}

export type ClientHelloInvalidReason =
  | 'not-handshake'
  | 'sslv2'
  | 'bad-record-version'
  | 'empty-record'
  | 'record-too-long'
  | 'not-client-hello'
  | 'too-large'
  | 'malformed';

export type ClientHelloParse =
  | { readonly kind: 'hello'; readonly hello: ClientHello }
  | { readonly kind: 'again' }
  | { readonly kind: 'invalid'; readonly reason: ClientHelloInvalidReason; readonly detail?: string };

const AGAIN = { kind: 'again' } as const;
const invalid = (reason: ClientHelloInvalidReason, detail?: string): ClientHelloParse =>
  detail === undefined ? { kind: 'invalid', reason } : { kind: 'invalid', reason, detail };

/** Parse the ClientHello at the start of `bytes` (the connection's first bytes). Never throws. */
export function parseClientHello(bytes: Uint8Array): ClientHelloParse {
  const first = bytes[0];
  if (first === undefined) return AGAIN;
  if (first !== RECORD_HANDSHAKE) return invalid(first & 0x80 ? 'sslv2' : 'not-handshake');
  const gathered = gatherHandshake(bytes);
  if (gathered.kind !== 'message') return gathered;
  try {
    return { kind: 'hello', hello: readHello(gathered.message, gathered) };
  } catch (err) {
    if (err instanceof Malformed) return invalid('malformed', err.message);
    throw err;
  }
}

interface Gathered {
  readonly kind: 'message';
  readonly message: Uint8Array;
  readonly recordVersion: number;
  readonly records: number;
  readonly end: number;
}

/** Walk the handshake records and collect the first handshake message (copy only if fragmented). */
function gatherHandshake(bytes: Uint8Array): Gathered | ClientHelloParse {
  const fragments: Uint8Array[] = [];
  let have = 0;
  let need = -1; // total handshake message length, once its 4-byte header is known
  let pos = 0;
  let recordVersion = 0;
  // 'again' means "one more byte at least", so past the cap the answer is always final.
  const again = (): ClientHelloParse => (bytes.length >= CLIENT_HELLO_MAX_BYTES ? invalid('too-large') : AGAIN);
  for (;;) {
    if (pos >= bytes.length) return again();
    if (bytes[pos] !== RECORD_HANDSHAKE) return invalid('not-handshake', `record type ${bytes[pos]} inside the hello`);
    if (pos + 1 < bytes.length && bytes[pos + 1] !== 3) return invalid('bad-record-version');
    if (pos + 5 > bytes.length) return again();
    const version = u16(bytes, pos + 1);
    if (version > 0x0304) return invalid('bad-record-version');
    if (fragments.length === 0) recordVersion = version;
    const length = u16(bytes, pos + 3);
    if (length === 0) return invalid('empty-record');
    if (length > MAX_RECORD) return invalid('record-too-long');
    const start = pos + 5;
    const available = Math.min(bytes.length, start + length) - start;
    const take = need < 0 ? available : Math.min(available, need - have);
    fragments.push(bytes.subarray(start, start + take));
    have += take;
    if (have >= 1 && fragments[0]![0] !== HANDSHAKE_CLIENT_HELLO) return invalid('not-client-hello');
    if (need < 0 && have >= 4) {
      const header = have === take ? fragments[0]! : concat(fragments, 4);
      need = 4 + ((header[1]! << 16) | (header[2]! << 8) | header[3]!);
      if (need + 5 > CLIENT_HELLO_MAX_BYTES) return invalid('too-large');
      if (have > need) {
        fragments[fragments.length - 1] = fragments[fragments.length - 1]!.subarray(0, take - (have - need));
        have = need;
      }
    }
    if (need >= 0 && have >= need) {
      const message = fragments.length === 1 ? fragments[0]! : concat(fragments, need);
      return { kind: 'message', message, recordVersion, records: fragments.length, end: start + (fragments.at(-1)!.length) };
    }
    if (available < length) return again();
    pos = start + length;
  }
}

class Malformed extends Error {}

/** A bounds-checked reader over one handshake message; any overrun means the hello is malformed. */
class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {}
  get left(): number {
    return this.end - this.pos;
  }
  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new Malformed(`${what} runs past its end`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = u16(this.bytes, this.pos);
    this.pos += 2;
    return v;
  }
  /** A sub-reader over the next `n` bytes, which this reader skips. */
  sub(n: number, what: string): Reader {
    this.need(n, what);
    const r = new Reader(this.bytes, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  vector8(what: string): Reader {
    return this.sub(this.u8(what), what);
  }
  vector16(what: string): Reader {
    return this.sub(this.u16(what), what);
  }
  text(what: string): string {
    let s = '';
    while (this.pos < this.end) {
      const c = this.bytes[this.pos++]!;
      if (c < 0x21 || c > 0x7e) throw new Malformed(`${what} has a byte outside printable ASCII`);
      s += String.fromCharCode(c);
    }
    return s;
  }
}

function readHello(message: Uint8Array, gathered: Gathered): ClientHello {
  const r = new Reader(message, 4, message.length);
  const legacyVersion = r.u16('legacy_version');
  r.sub(32, 'random');
  const sessionId = r.vector8('legacy_session_id');
  if (sessionId.left > 32) throw new Malformed('legacy_session_id is longer than 32 bytes');
  const suites = r.vector16('cipher_suites');
  if (suites.left < 2 || suites.left % 2 !== 0) throw new Malformed('cipher_suites has an odd or zero length');
  const compression = r.vector8('legacy_compression_methods');
  if (compression.left < 1) throw new Malformed('no compression method');
  let serverName: string | undefined;
  let ticketKeyName: string | undefined;
  let versions: number[] | undefined;
  const alpn: string[] = [];
  const extensions: number[] = [];
  const keyShareGroups: number[] = [];
  if (r.left > 0) {
    const exts = r.vector16('extensions');
    if (r.left !== 0) throw new Malformed('bytes after the extensions');
    while (exts.left > 0) {
      const type = exts.u16('extension type');
      const data = exts.vector16('extension data');
      if (extensions.includes(type)) throw new Malformed(`extension ${type} appears twice`);
      extensions.push(type);
      if (type === 0) serverName = readServerName(data);
      else if (type === 16) readAlpn(data, alpn);
      else if (type === 43) versions = readVersions(data);
      else if (type === 51) readKeyShare(data, keyShareGroups);
      else if (type === EXT_SESSION_TICKET || type === EXT_PRE_SHARED_KEY) ticketKeyName ??= readTicketKeyName(type, data);
    }
  }
  const hello: ClientHello = {
    recordVersion: gathered.recordVersion,
    legacyVersion,
    versions: versions ?? [legacyVersion],
    alpn,
    cipherSuites: suites.left / 2,
    extensions,
    keyShareGroups,
    length: message.length,
    records: gathered.records,
    end: gathered.end,
  };
  return { ...hello, ...(serverName === undefined ? {} : { serverName }), ...(ticketKeyName === undefined ? {} : { ticketKeyName }) };
}

const EXT_SESSION_TICKET = 35;
const EXT_PRE_SHARED_KEY = 41;
const TICKET_KEY_NAME_BYTES = 16;

/** The ticket's key name, leniently: a ticket too short to carry one (or a cut PSK list) gives none, never a malformed hello. */
function readTicketKeyName(type: number, data: Reader): string | undefined {
  const hex = (r: Reader): string => {
    let s = '';
    for (let i = 0; i < TICKET_KEY_NAME_BYTES; i++) s += r.u8('ticket key name').toString(16).padStart(2, '0');
    return s;
  };
  try {
    if (type === EXT_SESSION_TICKET) return data.left >= TICKET_KEY_NAME_BYTES ? hex(data) : undefined;
    // identities<7..2^16-1>: identity<1..2^16-1> + obfuscated_ticket_age(4)
    const identity = data.vector16('psk identities').vector16('psk identity');
    return identity.left >= TICKET_KEY_NAME_BYTES ? hex(identity) : undefined;
  } catch (err) {
    if (err instanceof Malformed) return undefined;
    throw err;
  }
}

function readServerName(data: Reader): string | undefined {
  if (data.left === 0) return undefined; // a server's empty echo; clients should not send it
  const list = data.vector16('server_name_list');
  if (data.left !== 0) throw new Malformed('bytes after server_name_list');
  let name: string | undefined;
  while (list.left > 0) {
    const kind = list.u8('name_type');
    const value = list.vector16('server name');
    if (kind !== 0) continue;
    if (name !== undefined) throw new Malformed('two host_name entries');
    if (value.left === 0 || value.left > 255) throw new Malformed('host_name length out of range');
    name = value.text('host_name');
  }
  return name;
}

function readAlpn(data: Reader, into: string[]): void {
  const list = data.vector16('ALPN list');
  if (data.left !== 0) throw new Malformed('bytes after the ALPN list');
  while (list.left > 0) {
    const name = list.vector8('ALPN protocol');
    if (name.left === 0) throw new Malformed('empty ALPN protocol name');
    let s = '';
    while (name.left > 0) s += String.fromCharCode(name.u8('ALPN protocol'));
    into.push(s);
  }
}

function readVersions(data: Reader): number[] {
  const list = data.vector8('supported_versions');
  if (data.left !== 0 || list.left < 2 || list.left % 2 !== 0) throw new Malformed('supported_versions has a bad length');
  const out: number[] = [];
  while (list.left > 0) out.push(list.u16('version'));
  return out;
}

function readKeyShare(data: Reader, into: number[]): void {
  const list = data.vector16('client_shares');
  if (data.left !== 0) throw new Malformed('bytes after client_shares');
  while (list.left > 0) {
    into.push(list.u16('key share group'));
    list.vector16('key_exchange');
  }
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

/** The first `n` bytes of the fragments joined (only for hellos split across records). */
function concat(fragments: readonly Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const f of fragments) {
    if (at >= n) break;
    const part = f.subarray(0, n - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}
