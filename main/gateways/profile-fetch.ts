/**
 * Fetching the profile document from the gateway over a connection that is already up and
 * verified (the pinned TLS is what makes the document authentic): one GET on the HTTP/2 session
 * the tunnels use, or one request on a fresh verified TLS connection for HTTP/1.1 gateways.
 * The answer is checked against the shared schema before anyone may act on it.
 */
import { request as httpRequest } from 'node:http';
import { constants, sensitiveHeaders, type ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { PinholeError } from '../../shared/errors.js';
import { PROFILE_DOCUMENT_MAX_BYTES, PROFILE_DOCUMENT_PATH, ProfileDocumentSchema, type ProfileDocument } from '../../shared/profile-document.js';

export interface ProfileHttpAnswer {
  status: number;
  etag: string | undefined;
  body: string;
}

/** One GET of the profile path with these extra headers (credentials, If-None-Match). */
export type ProfileRequest = (headers: Record<string, string>) => Promise<ProfileHttpAnswer>;

export type ProfileFetchResult =
  | { kind: 'fresh'; document: ProfileDocument; etag: string | undefined }
  | { kind: 'unchanged' }
  /** The gateway does not serve profiles (an older gateway, or stunnel + Squid). */
  | { kind: 'unsupported'; status: number };

const DEFAULT_TIMEOUT_MS = 10_000;

const tooLarge = (): PinholeError => new PinholeError('PINHOLE_PROFILE_DOCUMENT_INVALID', `The gateway's profile is larger than ${PROFILE_DOCUMENT_MAX_BYTES} bytes.`);
const timedOut = (ms: number): PinholeError => new PinholeError('PINHOLE_GATEWAY_TIMEOUT', `The gateway did not send the profile within ${ms} ms.`);

/** The profile GET as a stream on an HTTP/2 session (the tunnels' own session). */
export const h2ProfileRequest =
  (session: ClientHttp2Session, authorization: string, timeoutMs = DEFAULT_TIMEOUT_MS): ProfileRequest =>
  (headers) =>
    new Promise((resolve, reject) => {
      let stream;
      try {
        stream = session.request({ ':method': 'GET', ':path': PROFILE_DOCUMENT_PATH, authorization, ...headers, [sensitiveHeaders]: ['authorization'] }, { endStream: true });
      } catch (err) {
        reject(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let status = 0;
      let etag: string | undefined;
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(timedOut(timeoutMs));
      }, timeoutMs);
      stream.once('response', (head) => {
        status = Number(head[':status']);
        const tag = head['etag'];
        etag = typeof tag === 'string' ? tag : undefined;
      });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > PROFILE_DOCUMENT_MAX_BYTES) {
          clearTimeout(timer);
          stream.close(constants.NGHTTP2_CANCEL);
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      stream.once('end', () => {
        clearTimeout(timer);
        resolve({ status, etag, body: Buffer.concat(chunks).toString('utf8') });
      });
      stream.once('error', (err) => {
        clearTimeout(timer);
        reject(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err }));
      });
    });

/** The profile GET on one fresh, verified TLS connection to the gateway (HTTP/1.1 gateways). */
export const h1ProfileRequest =
  (connect: () => Promise<Duplex>, serverName: string, authorization: string, timeoutMs = DEFAULT_TIMEOUT_MS): ProfileRequest =>
  async (headers) => {
    const socket = await connect();
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        createConnection: () => socket,
        method: 'GET',
        path: PROFILE_DOCUMENT_PATH,
        headers: { host: serverName, authorization, connection: 'close', ...headers },
      });
      const fail = (err: PinholeError): void => {
        req.destroy();
        socket.destroy();
        reject(err);
      };
      req.setTimeout(timeoutMs, () => fail(timedOut(timeoutMs)));
      req.once('error', (err) => fail(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err })));
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > PROFILE_DOCUMENT_MAX_BYTES) fail(tooLarge());
          else chunks.push(chunk);
        });
        res.once('end', () => {
          socket.destroy();
          const tag = res.headers.etag;
          resolve({ status: res.statusCode ?? 0, etag: typeof tag === 'string' ? tag : undefined, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.end();
    });
  };

/**
 * GET the document (conditionally on `etag`), check it is JSON, matches the schema and is for
 * `user`. Throws PinholeError: AUTH_REJECTED on 401/407, PROFILE_DOCUMENT_INVALID otherwise.
 */
export const fetchProfileDocument = async (request: ProfileRequest, user: string, etag?: string): Promise<ProfileFetchResult> => {
  const answer = await request(etag === undefined ? {} : { 'if-none-match': etag });
  if (answer.status === 304) return { kind: 'unchanged' };
  // 400 too: a plain forward proxy (stunnel + Squid) refuses an origin-form request it does not serve.
  if (answer.status === 400 || answer.status === 404 || answer.status === 405 || answer.status === 501) return { kind: 'unsupported', status: answer.status };
  if (answer.status === 401 || answer.status === 407) throw new PinholeError('PINHOLE_AUTH_REJECTED', 'The gateway refused the credentials when asked for the profile.');
  if (answer.status !== 200) throw new PinholeError('PINHOLE_PROFILE_DOCUMENT_INVALID', `The gateway answered HTTP ${answer.status} for the profile.`, { details: { status: answer.status } });
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    throw new PinholeError('PINHOLE_PROFILE_DOCUMENT_INVALID', "The gateway's profile is not JSON.");
  }
  const parsed = ProfileDocumentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'document';
    throw new PinholeError('PINHOLE_PROFILE_DOCUMENT_INVALID', `The gateway's profile is not valid: ${where} ${issue?.message ?? 'is wrong'}.`);
  }
  if (parsed.data.user !== user) {
    throw new PinholeError('PINHOLE_PROFILE_DOCUMENT_INVALID', `The gateway sent the profile of another user (${parsed.data.user}).`);
  }
  return { kind: 'fresh', document: parsed.data, etag: answer.etag };
};
