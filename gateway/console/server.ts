/**
 * `pinhole-gateway console`: the operator's web console on its own listener (never the public
 * port; 127.0.0.1 unless told otherwise; HTTPS with --cert/--key). Sign-in: the one-time token
 * printed at start, exchanged for a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS);
 * a wrong token is penalised per source like a wrong proxy password (auth/penalties.ts). Every
 * change is a POST/DELETE carrying the session's CSRF token in `x-pinhole-csrf` from the console's
 * own Origin, as JSON. Disable/enable, revoke/restore and a session's disconnect also go to the
 * fleet control (control/fleet-control.ts): through Redis when the console has --state, so every
 * gateway hears it at once; the reply says `fleet: sent | unreachable | no-state`. Pages read: the users file (read afresh each time, so a hand edit shows),
 * and the fleet's admin listeners (fleet-watch.ts).
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { PinholeError, isErrorCode, ERRORS } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import {
  AddUserSchema,
  CSRF_HEADER,
  DisableUserSchema,
  IssueLinkSchema,
  type ControlReply,
  type DisableReply,
  type FleetReply,
  type LinkReply,
  type OperatorSessionReply,
  type SessionsPageReply,
  type UserRow,
  type UsersReply,
} from '../../shared/operator-api.js';
import { generatePassword, hashPassword, isValidUserName } from '../../node/htpasswd.js';
import { listenExplained } from '../../node/listen-error.js';
import { LISTENER_OPTIONS } from '../../node/socket-options.js';
import { cookieValue, sameSecret, sendSecurityHeaders, serveStaticFile } from '../../node/web-console.js';
import { Penalties, type PenaltySettings } from '../auth/penalties.js';
import { readUsersFile } from '../users.js';
import { changeUsers, edits, isDisabled, type UsersFileIo } from '../users-file.js';
import type { ControlOutcome, FleetControl } from '../control/fleet-control.js';
import type { FleetWatch } from './fleet-watch.js';

export const OPERATOR_COOKIE = 'pinhole_operator';

export interface OperatorConsoleOptions {
  readonly listen: { host: string; port: number };
  readonly tls?: { cert: Buffer; key: Buffer };
  readonly usersFile: string;
  readonly fleet: FleetWatch;
  /** Revocations and disconnects for the whole fleet; absent: those changes answer `no-state` (nothing was sent). */
  readonly control?: Pick<FleetControl, 'revokeUser' | 'restoreUser' | 'disconnectSession'>;
  /** Makes a provisioning link for a user and a fresh password. */
  readonly link: (user: string, password: string, transport: 'h2' | 'h1' | 'wss') => Promise<string>;
  readonly staticDir: string;
  readonly logger: Logger;
  readonly version: string;
  readonly penalties: PenaltySettings;
  /** How long the printed token may be used (ms). */
  readonly tokenLifetimeMs: number;
  /** How long a signed-in session lasts without use (ms). */
  readonly sessionIdleMs?: number;
  /** Tests: a fixed token, a clock, a file system that fails. */
  readonly token?: string;
  readonly now?: () => number;
  readonly usersIo?: UsersFileIo;
}

export interface RunningOperatorConsole {
  readonly origin: string;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

interface OperatorSession {
  csrf: string;
  lastUse: number;
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
const MAX_BODY = 16 * 1024;
const CONSOLE_USER = '(console token)';
const NO_CONTROL: ControlReply = { fleet: 'no-state' };

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const readJson = async (req: IncomingMessage): Promise<unknown> => {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ApiFailure(413, 'PINHOLE_USAGE', 'The request body is too large.');
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ApiFailure(400, 'PINHOLE_USAGE', 'The request body is not JSON.');
  }
};

const parseBody = <T>(schema: z.ZodType<T>, body: unknown): T => {
  const result = schema.safeParse(body);
  if (!result.success) throw new ApiFailure(400, 'PINHOLE_USAGE', `The request is not valid: ${result.error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`).join('; ')}.`);
  return result.data;
};

const toTime = (value: string | number | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
};

const controlReply = (outcome: ControlOutcome): ControlReply => ({
  fleet: outcome.fleet,
  ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
  ...(outcome.until === undefined ? {} : { until: outcome.until }),
});

/** A session id as gateway/sessions.ts makes them (instance, a dot, a counter): nothing else reaches Redis. */
const SESSION_ID = /^[\w.-]{1,128}$/;

export async function startOperatorConsole(options: OperatorConsoleOptions): Promise<RunningOperatorConsole> {
  const log = options.logger;
  const now = options.now ?? Date.now;
  const token = options.token ?? randomBytes(24).toString('base64url');
  const tokenExpires = now() + options.tokenLifetimeMs;
  const idleMs = options.sessionIdleMs ?? 12 * 3_600_000;
  let tokenUsed = false;
  const sessions = new Map<string, OperatorSession>();
  const penalties = new Penalties(options.penalties);
  const secure = options.tls !== undefined;
  let origin = '';
  const control = options.control;

  const security = (res: ServerResponse): void => sendSecurityHeaders(res, origin);

  const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
    security(res);
    res.writeHead(status, JSON_TYPE).end(JSON.stringify(body));
  };

  const refusePage = (res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void => {
    security(res);
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra }).end(`${text}\n`);
  };

  const sessionOf = (req: IncomingMessage): OperatorSession | undefined => {
    const id = cookieValue(req.headers.cookie, OPERATOR_COOKIE);
    if (id === undefined) return undefined;
    for (const [key, session] of sessions) {
      if (!sameSecret(key, id)) continue;
      if (now() - session.lastUse > idleMs) {
        sessions.delete(key);
        return undefined;
      }
      session.lastUse = now();
      return session;
    }
    return undefined;
  };

  const sourceOf = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

  /** GET /?token=...: the one-time token for a session cookie; a wrong one is penalised like a wrong proxy password. */
  const signIn = async (req: IncomingMessage, res: ServerResponse, offered: string): Promise<void> => {
    const source = sourceOf(req);
    const verdict = await penalties.verdict(source, CONSOLE_USER);
    if (verdict.refused) {
      log.warn({ event: 'console-token-refused', source, retryAfterSeconds: verdict.retryAfterSeconds }, 'A console sign-in was refused: too many wrong tokens from this address.');
      return refusePage(res, 429, `Too many wrong console tokens from this address; try again in ${verdict.retryAfterSeconds} s.`, { 'retry-after': String(verdict.retryAfterSeconds) });
    }
    if (verdict.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, verdict.delayMs));
    if (sameSecret(offered, token)) {
      if (tokenUsed) return refusePage(res, 403, 'This console link was already used. Restart `pinhole-gateway console` for a new one.');
      if (now() > tokenExpires) {
        log.warn({ event: 'console-token-expired', source }, 'An expired console token was offered.');
        return refusePage(res, 401, `${ERRORS.PINHOLE_CONSOLE_SIGN_IN_EXPIRED.sentence}`);
      }
      tokenUsed = true;
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, { csrf: randomBytes(24).toString('base64url'), lastUse: now() });
      await penalties.succeeded(source, CONSOLE_USER);
      log.info({ event: 'console-session', source }, 'An operator signed in to the console.');
      res.setHeader('Set-Cookie', `${OPERATOR_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`);
      res.writeHead(303, { location: '/', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const count = await penalties.failed(source, CONSOLE_USER);
    log.warn({ event: 'console-token-rejected', source, failures: count.failures }, 'A wrong console token was offered.');
    refusePage(res, 403, 'This console link is wrong. Use the link `pinhole-gateway console` printed.');
  };

  const usersReply = (): UsersReply => {
    const perUser = new Map<string, { tunnels: number; bytes: number; lastSeen: number | undefined; sessions: number }>();
    let sessionsKnown = false;
    for (const { sessions: list } of options.fleet.sessions()) {
      if (list === undefined) continue;
      sessionsKnown = true;
      for (const s of list) {
        const row = perUser.get(s.user) ?? { tunnels: 0, bytes: 0, lastSeen: undefined, sessions: 0 };
        row.sessions += 1;
        row.tunnels += s.tunnels ?? 0;
        row.bytes += (s.bytesUp ?? 0) + (s.bytesDown ?? 0);
        const seen = toTime(s.lastSeen) ?? toTime(s.since);
        if (seen !== undefined) row.lastSeen = Math.max(row.lastSeen ?? 0, seen);
        perUser.set(s.user, row);
      }
    }
    const users: UserRow[] = [];
    for (const entry of readUsersFile(options.usersFile, 'empty').values()) {
      const live = perUser.get(entry.user);
      users.push({
        name: entry.user,
        disabled: isDisabled(entry),
        ...(sessionsKnown ? { tunnels: live?.tunnels ?? 0, bytes: live?.bytes ?? 0, sessions: live?.sessions ?? 0 } : {}),
        ...(live?.lastSeen === undefined ? {} : { lastSeen: live.lastSeen }),
      });
    }
    users.sort((a, b) => a.name.localeCompare(b.name));
    return { users, sessionsKnown };
  };

  const sessionsReply = (): SessionsPageReply => {
    const reply: SessionsPageReply = { sessions: [], missing: [] };
    for (const { gateway, sessions: list, why } of options.fleet.sessions()) {
      if (list === undefined) reply.missing.push({ gateway, why: why ?? 'down' });
      else for (const s of list) reply.sessions.push({ ...s, gateway });
    }
    return reply;
  };

  const userName = (encoded: string): string => {
    const name = decodeURIComponent(encoded);
    if (!isValidUserName(name)) throw new ApiFailure(400, 'PINHOLE_USAGE', `The user name ${JSON.stringify(name)} is not valid (no colon or spaces).`);
    return name;
  };

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, session: OperatorSession): Promise<void> => {
    const method = req.method ?? 'GET';
    if (method === 'GET') {
      if (path === '/api/session') return sendJson(res, 200, { csrf: session.csrf, version: options.version } satisfies OperatorSessionReply);
      if (path === '/api/users') return sendJson(res, 200, usersReply());
      if (path === '/api/fleet') return sendJson(res, 200, { gateways: options.fleet.gateways(), polledAt: options.fleet.polledAt } satisfies FleetReply);
      if (path === '/api/sessions') return sendJson(res, 200, sessionsReply());
      throw new ApiFailure(404, 'PINHOLE_USAGE', 'No such page.');
    }
    // A change: same origin, the session's CSRF token, JSON.
    const offered = req.headers[CSRF_HEADER];
    // Same origin as the page: the scheme this console serves and the Host the browser asked for (a DNS name or the address).
    const pageOrigin = `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}`;
    if (req.headers.origin !== pageOrigin || typeof offered !== 'string' || !sameSecret(offered, session.csrf)) {
      log.warn({ event: 'console-csrf-refused', origin: req.headers.origin ?? null }, 'A console change without the session\'s CSRF token or from another origin was refused.');
      throw new ApiFailure(403, 'PINHOLE_CONSOLE_FORBIDDEN', 'This change did not come from the console page (missing CSRF token or foreign origin).');
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new ApiFailure(415, 'PINHOLE_USAGE', 'Changes are sent as JSON.');
    const body = await readJson(req);
    const userPath = /^\/api\/users\/([^/]+)(\/disable|\/link|\/revoke|\/restore)?$/.exec(path);
    const sessionPath = /^\/api\/sessions\/([^/]+)\/([^/]+)\/disconnect$/.exec(path);
    if (method === 'POST' && sessionPath !== null) {
      const gateway = decodeURIComponent(sessionPath[1] ?? '');
      const id = decodeURIComponent(sessionPath[2] ?? '');
      if (!SESSION_ID.test(id)) throw new ApiFailure(400, 'PINHOLE_USAGE', `The session id ${JSON.stringify(id)} is not one a gateway gives.`);
      const reply = control === undefined ? NO_CONTROL : controlReply(await control.disconnectSession(id));
      log.info({ event: 'console-session-disconnected', gateway, session: id, fleet: reply.fleet }, 'The console asked the fleet to end a session.');
      return sendJson(res, 200, reply);
    }
    if (method === 'POST' && path === '/api/users') {
      const { name } = parseBody(AddUserSchema, body);
      if (!isValidUserName(name)) throw new ApiFailure(400, 'PINHOLE_USAGE', `The user name ${JSON.stringify(name)} is not valid (no colon or spaces).`);
      // A random password nobody sees: the user gets one with their provisioning link.
      await changeUsers(options.usersFile, edits.add(name, await hashPassword(generatePassword())), options.usersIo);
      log.info({ event: 'console-user-added', user: name }, 'The console added a user.');
      return sendJson(res, 201, { name });
    }
    if (userPath !== null && userPath[1] !== undefined) {
      const name = userName(userPath[1]);
      if (method === 'POST' && userPath[2] === '/disable') {
        const { disabled } = parseBody(DisableUserSchema, body);
        await changeUsers(options.usersFile, edits.setDisabled(name, disabled), options.usersIo);
        const sent = control === undefined ? undefined : controlReply(await (disabled ? control.revokeUser(name) : control.restoreUser(name)));
        log.info({ event: disabled ? 'console-user-disabled' : 'console-user-enabled', user: name, fleet: sent?.fleet ?? 'no-state' }, disabled ? 'The console disabled a user.' : 'The console enabled a user.');
        return sendJson(res, 200, { name, disabled, ...(sent === undefined ? {} : { control: sent }) } satisfies DisableReply);
      }
      if (method === 'POST' && (userPath[2] === '/revoke' || userPath[2] === '/restore')) {
        const revoke = userPath[2] === '/revoke';
        const reply = control === undefined ? NO_CONTROL : controlReply(await (revoke ? control.revokeUser(name) : control.restoreUser(name)));
        log.info({ event: revoke ? 'console-user-revoked' : 'console-user-restored', user: name, fleet: reply.fleet }, revoke ? 'The console revoked a user across the fleet.' : 'The console lifted a user\'s revocation.');
        return sendJson(res, 200, reply);
      }
      if (method === 'POST' && userPath[2] === '/link') {
        const { transport } = parseBody(IssueLinkSchema, body);
        const password = generatePassword();
        // A new password for the new link: the user must exist (a link for a deleted user would be a surprise).
        const hash = await hashPassword(password);
        await changeUsers(
          options.usersFile,
          (users) => {
            if (!users.has(name)) throw new PinholeError('PINHOLE_USER_UNKNOWN', `There is no user ${JSON.stringify(name)} in the users file (it may have been removed by hand).`);
            edits.setHash(name, hash, true)(users);
          },
          options.usersIo,
        );
        log.info({ event: 'console-link-issued', user: name, transport }, 'The console issued a provisioning link (a new password; earlier links stop working).');
        return sendJson(res, 200, { link: await options.link(name, password, transport), user: name } satisfies LinkReply);
      }
      if (method === 'DELETE' && userPath[2] === undefined) {
        await changeUsers(options.usersFile, edits.remove(name), options.usersIo);
        log.info({ event: 'console-user-deleted', user: name }, 'The console deleted a user.');
        return sendJson(res, 200, { name });
      }
    }
    throw new ApiFailure(404, 'PINHOLE_USAGE', 'No such change.');
  };

  const failure = (res: ServerResponse, err: unknown): void => {
    if (err instanceof ApiFailure) return sendJson(res, err.status, { code: err.code, message: err.message });
    const code = (err as { code?: unknown }).code;
    if (err instanceof PinholeError || isErrorCode(code)) {
      const known = isErrorCode(code) ? code : 'PINHOLE_INTERNAL';
      const status = known === 'PINHOLE_DISK_FULL' ? 507 : known === 'PINHOLE_WRITE_FAILED' || known === 'PINHOLE_FILE_INVALID' ? 500 : ERRORS[known].status;
      log.warn({ event: 'console-change-failed', code: known, err: (err as Error).message }, 'A console request failed.');
      return sendJson(res, status, { code: known, message: (err as Error).message });
    }
    log.error({ err }, 'The console could not answer a request.');
    return sendJson(res, 500, { code: 'PINHOLE_INTERNAL', message: ERRORS.PINHOLE_INTERNAL.sentence });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const offered = url.searchParams.get('token');
    if (offered !== null && req.method === 'GET') return signIn(req, res, offered);
    if (path.startsWith('/assets/') || path === '/favicon.svg') {
      if (req.method === 'GET' && (await serveStaticFile(res, options.staticDir, path, 'public, max-age=31536000, immutable', security))) return;
      return refusePage(res, 404, 'Not found.');
    }
    const session = sessionOf(req);
    if (path.startsWith('/api/')) {
      if (session === undefined) return sendJson(res, 401, { code: 'PINHOLE_CONSOLE_FORBIDDEN', message: 'Sign in with the link `pinhole-gateway console` printed.' });
      return api(req, res, path, session).catch((err: unknown) => failure(res, err));
    }
    if (req.method !== 'GET') return refusePage(res, 405, 'Method not allowed.');
    if (path !== '/' && path !== '/index.html') return refusePage(res, 404, 'Not found.');
    if (session === undefined) return refusePage(res, 403, 'Open the console with the link `pinhole-gateway console` printed (it carries a one-time token).');
    if (!(await serveStaticFile(res, options.staticDir, 'index.html', 'no-store', security))) refusePage(res, 500, 'The console UI is not built.');
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'The console could not answer a request.');
      if (!res.headersSent) refusePage(res, 500, 'Internal error.');
      else res.destroy();
    });
  };
  const server: Server = options.tls ? createHttpsServer({ ...LISTENER_OPTIONS, cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(LISTENER_OPTIONS, onRequest);
  server.keepAliveTimeout = 5_000;
  await listenExplained(server, { host: options.listen.host, port: options.listen.port, what: 'The console', flag: '--listen' });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `${secure ? 'https' : 'http'}://${host}:${address.port}`;
  log.info({ listen: `${host}:${address.port}`, tls: secure }, 'The operator console is listening.');
  return {
    origin,
    url: `${origin}/?token=${token}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
