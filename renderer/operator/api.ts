/**
 * The console page's side of shared/operator-api.ts: JSON over fetch with the session cookie (sent
 * by the browser, never readable here) and the CSRF token on every change. A failure arrives as an
 * OperatorApiError with the server's code and sentence.
 */
import { CSRF_HEADER, type ApiError, type ControlReply, type DisableReply, type FleetReply, type LinkReply, type OperatorSessionReply, type SessionsPageReply, type UsersReply } from '../../shared/operator-api.js';

export class OperatorApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const call = async <T>(method: string, path: string, csrf: string | undefined, body?: unknown): Promise<T> => {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (csrf !== undefined) headers[CSRF_HEADER] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let reply: Response;
  try {
    reply = await fetch(path, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (err) {
    throw new OperatorApiError('PINHOLE_CONSOLE_UNREACHABLE', `The console does not answer (${String(err)}).`, 0);
  }
  const data = (await reply.json().catch(() => undefined)) as unknown;
  if (!reply.ok) {
    const error = (data ?? {}) as Partial<ApiError>;
    throw new OperatorApiError(error.code ?? 'PINHOLE_INTERNAL', error.message ?? `The console answered ${reply.status}.`, reply.status);
  }
  return data as T;
};

export class OperatorApi {
  private constructor(readonly session: OperatorSessionReply) {}

  static async open(): Promise<OperatorApi> {
    return new OperatorApi(await call<OperatorSessionReply>('GET', '/api/session', undefined));
  }

  users = (): Promise<UsersReply> => call('GET', '/api/users', undefined);
  fleet = (): Promise<FleetReply> => call('GET', '/api/fleet', undefined);
  sessions = (): Promise<SessionsPageReply> => call('GET', '/api/sessions', undefined);
  addUser = (name: string): Promise<unknown> => call('POST', '/api/users', this.session.csrf, { name });
  setDisabled = (name: string, disabled: boolean): Promise<DisableReply> => call('POST', `/api/users/${encodeURIComponent(name)}/disable`, this.session.csrf, { disabled });
  deleteUser = (name: string): Promise<unknown> => call('DELETE', `/api/users/${encodeURIComponent(name)}`, this.session.csrf, {});
  revokeUser = (name: string): Promise<ControlReply> => call('POST', `/api/users/${encodeURIComponent(name)}/revoke`, this.session.csrf, {});
  restoreUser = (name: string): Promise<ControlReply> => call('POST', `/api/users/${encodeURIComponent(name)}/restore`, this.session.csrf, {});
  disconnect = (gateway: string, id: string): Promise<ControlReply> => call('POST', `/api/sessions/${encodeURIComponent(gateway)}/${encodeURIComponent(id)}/disconnect`, this.session.csrf, {});
  issueLink = (name: string, transport: 'h2' | 'h1' | 'wss'): Promise<LinkReply> => call('POST', `/api/users/${encodeURIComponent(name)}/link`, this.session.csrf, { transport });
}
