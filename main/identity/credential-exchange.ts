/**
 * The client's half of `POST /pinhole/credential` (issue 18): the identity provider's token in,
 * a tunnel credential out, over one verified TLS connection to the gateway (the same racing dial
 * and pin check as the tunnels, so the token never reaches anything but the pinned gateway).
 * The credential's lifetime is measured on the gateway's clock (its Date header against its
 * expiresAt), so a client whose clock is off still renews in time.
 */
import { request as httpRequest } from 'node:http';
import { isErrorCode, PinholeError } from '../../shared/errors.js';
import { dialGateway, TlsSessionCache } from '../tunnel/dial.js';
import type { GatewayDialOptions } from '../tunnel/transport.js';

export const CREDENTIAL_PATH = '/pinhole/credential';
const TIMEOUT_MS = 20_000;
const MAX_BODY = 16 * 1024;

export interface ExchangedCredential {
  readonly credential: string;
  /** Who the gateway says signed in (tunnels are counted and logged under it). */
  readonly user: string;
  /** How long the credential lives from now, in ms, by the gateway's clock. */
  readonly lifetimeMs: number;
}

export type GatewayConnectOptions = Pick<GatewayDialOptions, 'endpoints' | 'serverName' | 'trust' | 'upstreamProxy' | 'logger' | 'connectTimeoutMs'>;

interface Answer {
  status: number;
  code: string | undefined;
  date: string | undefined;
  body: string;
}

/** The remaining lifetime, by the gateway's own clock when it sent a Date (skew-proof), else by ours. */
export const lifetimeOf = (expiresAt: string, gatewayDate: string | undefined, now = Date.now()): number => {
  const expires = Date.parse(expiresAt);
  const sent = gatewayDate === undefined ? Number.NaN : Date.parse(gatewayDate);
  // Date has whole seconds: the lifetime is up to a second short, never long.
  return Math.max(0, expires - (Number.isFinite(sent) ? sent + 1_000 : now));
};

const post = async (options: GatewayConnectOptions, token: string): Promise<Answer> => {
  const socket = await dialGateway({ ...options, user: '', password: '' }, ['http/1.1'], new TlsSessionCache());
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      createConnection: () => socket,
      method: 'POST',
      path: CREDENTIAL_PATH,
      headers: { host: options.serverName, authorization: `Bearer ${token}`, 'content-length': 0, connection: 'close' },
    });
    const fail = (err: PinholeError): void => {
      req.destroy();
      socket.destroy();
      reject(err);
    };
    req.setTimeout(TIMEOUT_MS, () => fail(new PinholeError('PINHOLE_GATEWAY_TIMEOUT', 'The gateway did not answer the sign-in in time.')));
    req.once('error', (err) => fail(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err })));
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) fail(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway answered the sign-in with too much data.'));
        else chunks.push(chunk);
      });
      res.once('end', () => {
        socket.destroy();
        const code = res.headers['pinhole-error'];
        resolve({ status: res.statusCode ?? 0, code: typeof code === 'string' ? code : undefined, date: res.headers.date, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end();
  });
};

/** Exchanges the provider's token for a tunnel credential; a refusal is the gateway's code and sentence. */
export async function exchangeForCredential(options: GatewayConnectOptions, token: string, now = Date.now): Promise<ExchangedCredential> {
  const answer = await post(options, token);
  if (answer.status !== 200) {
    if (isErrorCode(answer.code)) throw new PinholeError(answer.code, undefined, { details: { status: answer.status, gateway: options.serverName } });
    // A gateway without sign-in serves its web site at that path.
    throw new PinholeError('PINHOLE_SIGNIN_FAILED', `The gateway ${options.serverName} does not take sign-ins with an identity provider (HTTP ${answer.status}); ask your administrator for a password link.`, { details: { status: answer.status } });
  }
  let parsed: { credential?: unknown; expiresAt?: unknown; user?: unknown };
  try {
    parsed = JSON.parse(answer.body) as typeof parsed;
  } catch {
    parsed = {};
  }
  if (typeof parsed.credential !== 'string' || typeof parsed.expiresAt !== 'string' || typeof parsed.user !== 'string' || !Number.isFinite(Date.parse(parsed.expiresAt))) {
    throw new PinholeError('PINHOLE_SIGNIN_FAILED', 'The gateway answered the sign-in with something that is not a tunnel credential.');
  }
  return { credential: parsed.credential, user: parsed.user, lifetimeMs: lifetimeOf(parsed.expiresAt, answer.date, now()) };
}
