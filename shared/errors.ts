/**
 * Every failure Pinhole can report, each with a stable code, the HTTP status an application sees
 * when the failure happens on its behalf, and a sentence a user can act on. Callers branch on
 * `code`; errors cross IPC and the console WebSocket as `{ code, message }` (see `toWire`).
 */
export const ERRORS = {
  PINHOLE_AUTH_REJECTED: { status: 407, sentence: 'The gateway rejected the user name or password.' },
  PINHOLE_AUTH_MISSING: { status: 407, sentence: 'The gateway requires a user name and password.' },
  PINHOLE_AUTH_THROTTLED: { status: 429, sentence: 'Too many wrong passwords came from this address; the gateway refuses sign-ins for a while.' },
  PINHOLE_AUTH_BUSY: { status: 503, sentence: 'The gateway is busy checking passwords; try again in a moment.' },
  PINHOLE_IDENTITY_TOKEN_INVALID: { status: 401, sentence: 'The sign-in token is not valid (not a token, or its signature does not match the issuer\'s keys); sign in again.' },
  PINHOLE_IDENTITY_TOKEN_EXPIRED: { status: 401, sentence: 'The sign-in token has expired; sign in again.' },
  PINHOLE_IDENTITY_ISSUER_UNKNOWN: { status: 401, sentence: 'The sign-in token comes from an identity provider this gateway does not trust.' },
  PINHOLE_IDENTITY_AUDIENCE_MISMATCH: { status: 401, sentence: 'The sign-in token was issued for another application (its audience is not this gateway\'s).' },
  PINHOLE_IDENTITY_NOT_ALLOWED: { status: 403, sentence: 'Your account signed in, but its groups or e-mail domain are not allowed on this gateway.' },
  PINHOLE_IDENTITY_ISSUER_UNREACHABLE: { status: 503, sentence: 'The identity provider could not be reached to check the sign-in; try again in a moment (tunnels already signed in keep working).' },
  PINHOLE_CREDENTIAL_EXPIRED: { status: 407, sentence: 'The tunnel credential has expired; Pinhole gets a new one by signing in again.' },
  PINHOLE_SIGNIN_REQUIRED: { status: 407, sentence: 'This profile signs in with your identity provider, and it is not signed in (or the sign-in ended); sign in again.' },
  PINHOLE_SIGNIN_ISSUER_UNREACHABLE: { status: 503, sentence: 'The identity provider could not be reached, so you cannot sign in now; try again in a moment (a tunnel credential you already have keeps working until it expires).' },
  PINHOLE_SIGNIN_CODE_EXPIRED: { status: 401, sentence: 'The sign-in code expired before it was confirmed; sign in again for a new code.' },
  PINHOLE_SIGNIN_DENIED: { status: 403, sentence: 'The sign-in was declined at the identity provider.' },
  PINHOLE_SIGNIN_FAILED: { status: 401, sentence: 'The identity provider refused the sign-in; sign in again.' },
  PINHOLE_CREDENTIAL_INVALID: { status: 407, sentence: 'The tunnel credential is not valid on this gateway.' },
  PINHOLE_CREDENTIAL_REVOKED: {
    status: 403,
    sentence: 'Your access to this gateway was revoked by its operator; Pinhole stops retrying. Sign in again, or ask your administrator if you think this is a mistake.',
  },
  PINHOLE_GATEWAY_FULL: { status: 503, sentence: 'The gateway holds as many connections as it can; try again in a moment.' },
  PINHOLE_LIMIT_REACHED: { status: 429, sentence: 'This user or address already holds as many tunnels as the gateway allows.' },
  PINHOLE_DEST_FORBIDDEN: { status: 403, sentence: 'The gateway does not allow connections to this destination.' },
  PINHOLE_PORT_FORBIDDEN: { status: 403, sentence: 'The gateway does not allow connections to this port.' },
  PINHOLE_APP_BLOCKED: { status: 403, sentence: 'This application is blocked by a Pinhole rule.' },
  PINHOLE_DOMAIN_BLOCKED: { status: 403, sentence: 'This destination is blocked by a Pinhole rule.' },
  PINHOLE_CONNECT_FAILED: { status: 502, sentence: 'The destination refused the connection or could not be reached.' },
  PINHOLE_DNS_FAILED: { status: 502, sentence: 'The destination host name could not be resolved.' },
  PINHOLE_CONNECT_TIMEOUT: { status: 504, sentence: 'The destination did not answer in time.' },
  PINHOLE_GATEWAY_UNREACHABLE: { status: 502, sentence: 'The Pinhole gateway could not be reached.' },
  PINHOLE_GATEWAY_TIMEOUT: { status: 504, sentence: 'The Pinhole gateway did not answer in time.' },
  PINHOLE_GATEWAY_CLOSED: { status: 502, sentence: 'The connection to the Pinhole gateway was lost.' },
  PINHOLE_GATEWAY_UNRESPONSIVE: { status: 504, sentence: 'The Pinhole gateway stopped answering; Pinhole moves to another one when it can.' },
  PINHOLE_PROFILE_DOCUMENT_INVALID: { status: 502, sentence: "The gateway's profile update is not valid; the stored profile was kept." },
  PINHOLE_TLS_PIN_MISMATCH: {
    status: 502,
    sentence:
      "The gateway's certificate does not match the one in your link. A firewall on this network may be inspecting TLS; the connection was stopped to protect your credentials.",
  },
  PINHOLE_CAPTIVE_PORTAL: {
    status: 511,
    sentence: 'This network wants you to sign in first. Open its sign-in page in a browser; Pinhole reconnects by itself once the network lets it through.',
  },
  PINHOLE_TLS_UNTRUSTED: { status: 502, sentence: "The gateway's certificate is not trusted." },
  PINHOLE_TLS_FAILED: { status: 502, sentence: 'The secure connection to the gateway failed.' },
  PINHOLE_UPSTREAM_PROXY_FAILED: { status: 502, sentence: 'The corporate proxy refused to connect to the gateway.' },
  PINHOLE_UPSTREAM_AUTH_REQUIRED: {
    status: 502,
    sentence:
      'The corporate proxy wants a user name and password, and none was found (Pinhole looks in https_proxy/HTTPS_PROXY/http_proxy/ALL_PROXY as http://user:password@host:port and in the GNOME proxy settings).',
  },
  PINHOLE_UPSTREAM_AUTH_REJECTED: { status: 502, sentence: 'The corporate proxy rejected the user name and password it was given.' },
  PINHOLE_UPSTREAM_AUTH_UNSUPPORTED: { status: 502, sentence: 'The corporate proxy asks for a sign-in method Pinhole does not support (only Basic is).' },
  PINHOLE_NOT_CONNECTED: { status: 503, sentence: 'Pinhole is not connected.' },
  PINHOLE_BAD_REQUEST: { status: 400, sentence: 'The request is malformed.' },
  PINHOLE_HEADERS_TOO_LARGE: { status: 431, sentence: 'The request headers are too large.' },
  PINHOLE_REQUEST_TIMEOUT: { status: 408, sentence: 'The request did not arrive in time.' },
  PINHOLE_LINK_INVALID: { status: 400, sentence: 'The provisioning link is not valid.' },
  PINHOLE_LINK_TRUNCATED: { status: 400, sentence: 'The provisioning link was cut off; copy the whole link again.' },
  PINHOLE_LINK_VERSION: { status: 400, sentence: 'The provisioning link was made by a newer Pinhole; update Pinhole to use it.' },
  PINHOLE_CONFIG_INVALID: { status: 400, sentence: 'The configuration is not valid.' },
  PINHOLE_USAGE: { status: 400, sentence: 'The command was not used correctly.' },
  PINHOLE_KEYCHAIN_UNAVAILABLE: {
    status: 503,
    sentence: 'No system keychain is reachable, so the password cannot be stored safely.',
  },
  PINHOLE_KEYCHAIN_FAILED: { status: 500, sentence: 'The system keychain reported an error.' },
  PINHOLE_PROFILE_NOT_FOUND: { status: 404, sentence: 'There is no profile with that name.' },
  PINHOLE_MANAGED_INVALID: { status: 400, sentence: "The administrator's managed configuration is not valid; the last good one stays in use." },
  PINHOLE_MANAGED_LOCKED: { status: 403, sentence: 'Your administrator manages this setting; ask them to change it.' },
  PINHOLE_SYSTEM_PROXY_FAILED: { status: 500, sentence: 'The system proxy settings could not be changed.' },
  PINHOLE_SYSTEM_PROXY_UNSUPPORTED: {
    status: 501,
    sentence: 'This desktop is not recognised, so Pinhole cannot set the system proxy; use the shell export line instead.',
  },
  PINHOLE_DISK_FULL: { status: 507, sentence: 'The disk is full; nothing was changed.' },
  PINHOLE_PASSPHRASE_WRONG: { status: 403, sentence: 'The passphrase does not open the encrypted secrets file.' },
  PINHOLE_WRITE_FAILED: { status: 500, sentence: 'A settings file could not be written; nothing was changed.' },
  PINHOLE_CONTRACT_INVALID: { status: 400, sentence: 'The message does not match the contract.' },
  PINHOLE_CONSOLE_FORBIDDEN: { status: 403, sentence: 'The console token or origin is not valid.' },
  PINHOLE_CONSOLE_SIGN_IN_EXPIRED: { status: 401, sentence: 'The console sign-in has expired; start the console again for a new link.' },
  PINHOLE_USER_UNKNOWN: { status: 404, sentence: 'There is no such user in the users file.' },
  PINHOLE_USER_EXISTS: { status: 409, sentence: 'A user with that name already exists.' },
  PINHOLE_GATEWAY_UNANSWERED: { status: 502, sentence: 'A gateway of the fleet did not answer on its admin address.' },
  PINHOLE_LAN_ALLOW_LIST_REQUIRED: {
    status: 400,
    sentence:
      'The local proxy listens on a network address only together with --allow-from CIDR...: without an allow-list anyone who can reach this machine could use your tunnel and your account.',
  },
  PINHOLE_LOCAL_AUTH_MISSING: { status: 407, sentence: 'This Pinhole proxy requires a user name and password.' },
  PINHOLE_LOCAL_AUTH_REJECTED: { status: 407, sentence: 'This Pinhole proxy rejected the user name or password.' },
  PINHOLE_SOCKS_MALFORMED: { status: 400, sentence: 'The SOCKS5 request is malformed.' },
  PINHOLE_SOCKS_UNSUPPORTED: { status: 400, sentence: 'The SOCKS5 command or address type is not supported.' },
  PINHOLE_UDP_MALFORMED: { status: 400, sentence: 'The UDP datagram framing is malformed.' },
  PINHOLE_UDP_UNSUPPORTED: { status: 501, sentence: 'This transport cannot carry UDP: use the h2 or wss transport (stunnel + Squid carry TCP only).' },
  // Start-up: each names what stopped the start and what to do (README, Troubleshooting).
  PINHOLE_ADDRESS_IN_USE: { status: 409, sentence: 'The address is already in use by another program; stop that program or choose another port.' },
  PINHOLE_PORT_PRIVILEGED: {
    status: 403,
    sentence:
      'Ports below 1024 need the CAP_NET_BIND_SERVICE capability: `setcap cap_net_bind_service=+ep $(readlink -f $(which node))`, or AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit; or listen on a higher port behind the load balancer.',
  },
  PINHOLE_ADDRESS_NOT_LOCAL: { status: 400, sentence: 'The address is not one of this machine\'s; listen on one of its addresses (ip -br addr), or 0.0.0.0 for all.' },
  PINHOLE_FILE_UNREADABLE: { status: 500, sentence: 'A file Pinhole needs could not be read; check its path and that the user running Pinhole may read it.' },
  PINHOLE_FILE_INVALID: { status: 400, sentence: 'A file Pinhole needs is not in the expected format; fix it or write it again.' },
  PINHOLE_ADMIN_ON_PUBLIC_ADDRESS: { status: 400, sentence: 'The admin listener cannot share the public address; give --admin another port (it is for the balancer and Prometheus only).' },
  PINHOLE_STATE_UNREACHABLE: {
    status: 503,
    sentence: 'The shared state (Redis) does not answer; the gateway counts penalties on its own until it does. Check the state: URL and that Redis runs.',
  },
  PINHOLE_INTERNAL: {
    status: 500,
    sentence: 'Something went wrong inside Pinhole: this is a bug. Please report it to the Pinhole project together with the log.',
  },
} as const satisfies Record<string, { status: number; sentence: string }>;

export type ErrorCode = keyof typeof ERRORS;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, value);

export class PinholeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra facts for logs (never secrets). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? ERRORS[code].sentence, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PinholeError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options?.details;
  }
}

/** The shape an error takes on the wire (IPC, console WebSocket, HTTP bodies). */
export interface WireError {
  code: ErrorCode;
  message: string;
}

export const toWire = (err: unknown): WireError =>
  err instanceof PinholeError
    ? { code: err.code, message: err.message }
    : { code: 'PINHOLE_INTERNAL', message: ERRORS.PINHOLE_INTERNAL.sentence };

export const fromWire = (wire: WireError): PinholeError => new PinholeError(wire.code, wire.message);

/** The code a refusal status maps back to on the client side (gateway 403/407/502/504 -> error). */
export const codeForStatus = (status: number): ErrorCode => {
  switch (status) {
    case 403:
      return 'PINHOLE_DEST_FORBIDDEN';
    case 407:
      return 'PINHOLE_AUTH_REJECTED';
    // A gateway answers a throttled guesser a plain 429 (limits on signed-in users carry their code).
    case 429:
      return 'PINHOLE_AUTH_THROTTLED';
    case 504:
      return 'PINHOLE_CONNECT_TIMEOUT';
    case 431:
      return 'PINHOLE_HEADERS_TOO_LARGE';
    case 400:
      return 'PINHOLE_BAD_REQUEST';
    default:
      return 'PINHOLE_CONNECT_FAILED';
  }
};
