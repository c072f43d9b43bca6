/**
 * The reply a proxy sends to `CONNECT host:port HTTP/1.1`, parsed from the bytes read so far.
 * Pure: the socket plumbing (connect-client.ts) feeds it bytes until it answers something other than
 * `incomplete`. Anything after the blank line belongs to the tunnel and is handed back as `rest`.
 */
export const MAX_REPLY_HEAD = 16 * 1024;

export type ConnectReply =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; why: string }
  | {
      kind: 'reply';
      status: number;
      reason: string;
      /** Header names lower-cased; repeated headers joined with ", ". */
      headers: Record<string, string>;
      /** Bytes after the head (already tunnel data). */
      headLength: number;
    };

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/;

export const parseConnectReply = (bytes: Uint8Array): ConnectReply => {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, MAX_REPLY_HEAD + 4)).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) {
    if (bytes.byteLength > MAX_REPLY_HEAD) return { kind: 'invalid', why: 'the reply head is larger than 16 KiB' };
    // Fail early when even the first bytes cannot be an HTTP status line.
    const probe = text.slice(0, 5);
    if (!'HTTP/'.startsWith(probe) && !probe.startsWith('HTTP/')) return { kind: 'invalid', why: 'the reply is not HTTP' };
    return { kind: 'incomplete' };
  }
  const lines = text.slice(0, end).split('\r\n');
  const match = STATUS_LINE.exec(lines[0] ?? '');
  if (!match) return { kind: 'invalid', why: 'the status line is malformed' };
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'invalid', why: 'a header line has no name' };
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { kind: 'reply', status: Number(match[1]), reason: match[2] ?? '', headers, headLength: end + 4 };
};
