/**
 * `Basic base64(user:password)` (RFC 7617) as a pure function, for every side that checks one:
 * the LAN box's Proxy-Authorization today, the gateway's (gateway/users.ts parseBasicAuth) once it
 * moves here. No Node: atob and TextDecoder exist everywhere.
 */
export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The credentials in a Basic header value; undefined when it is not one (wrong scheme, bad base64, no colon, empty user). */
export function parseBasicCredentials(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (match?.[1] === undefined) return undefined;
  let decoded: string;
  try {
    decoded = utf8.decode(Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
