/**
 * The fleet control channel: revoke a user, lift a revocation, or end one session, on every
 * gateway of the fleet. The CLI (`user disable|enable`, `revoke`) and the operator console call it.
 *
 *   const control = new FleetControl({ state, local, lifetimeSeconds, timeoutMs?, logger? });
 *   await control.revokeUser(name)         users-file user NAME          -> ControlOutcome
 *   await control.revokeSubject(sub)       identity provider's subject   -> ControlOutcome
 *   await control.revokeEmail(address)     verified e-mail               -> ControlOutcome
 *   await control.restoreUser(name) / restoreSubject(sub) / restoreEmail(address)
 *   await control.disconnectSession(id)    a session id from GET /sessions (its tunnels end; no refusal after)
 *   await control.close()
 *
 * `state` is the fleet's Redis (gateway.yaml `state:`; absent: this gateway alone). `local` makes
 * the change hold here whatever Redis does: the CLI's writes the `revoked` file of the gateway's
 * directory (`revokedFileControl`), the console's also applies it in the running gateway at once
 * (`Gateway.localControl`). With Redis, a revocation is stored in the deny list (expiring after
 * `lifetimeSeconds`, the longest credential lifetime) and published: every gateway ends the user's
 * tunnels at once and refuses new ones, and a gateway started later reads the list at start.
 * Nothing throws for Redis: the outcome says `fleet: 'sent' | 'unreachable' | 'no-state'`, with
 * `reason` when unreachable (a Redis that is down, or hangs past `timeoutMs`).
 */
import type { Logger } from '../../shared/log.js';
import { controlClient, sendControl, type ControlMessage } from './fleet-channel.js';
import { describeStateUrl } from '../auth/shared-state.js';
import type { Revocation, RevocationKind, RevocationTarget } from './revocation-list.js';
import { addToRevokedFile, removeFromRevokedFile } from './revoked-file.js';

/** Where a change holds on this side, whatever Redis does. */
export interface LocalControl {
  revoke(entry: Revocation): Promise<void>;
  restore(target: RevocationTarget): Promise<void>;
  /** End a session here; false when there is none of that id here (or no running gateway to ask). */
  disconnect(session: string): Promise<boolean>;
}

export interface ControlOutcome {
  /** sent: stored and published through Redis; unreachable: Redis did not answer (see reason); no-state: no Redis configured. */
  readonly fleet: 'sent' | 'unreachable' | 'no-state';
  readonly reason?: string;
  /** For a revocation: when it lapses (ISO 8601). */
  readonly until?: string;
  /** For a disconnect: whether the session was found here. */
  readonly foundHere?: boolean;
}

export interface FleetControlOptions {
  readonly state?: string | undefined;
  readonly local: LocalControl;
  /** How long a revocation is kept: the longest credential lifetime (gateway.yaml identity.credentialLifetime, 12 h by default). */
  readonly lifetimeSeconds: number;
  /** How long Redis may take to answer (default 2 s). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

export const DEFAULT_CONTROL_TIMEOUT_MS = 2_000;

/** The CLI's local side: the `revoked` file the running gateway watches (disconnect cannot reach it from here). */
export const revokedFileControl = (file: string): LocalControl => ({
  revoke: (entry) => addToRevokedFile(file, entry),
  restore: (target) => removeFromRevokedFile(file, target),
  disconnect: () => Promise.resolve(false),
});

export class FleetControl {
  constructor(private readonly options: FleetControlOptions) {}

  revokeUser = (name: string): Promise<ControlOutcome> => this.revoke('user', name);
  revokeSubject = (subject: string): Promise<ControlOutcome> => this.revoke('subject', subject);
  revokeEmail = (address: string): Promise<ControlOutcome> => this.revoke('email', address);
  restoreUser = (name: string): Promise<ControlOutcome> => this.restore('user', name);
  restoreSubject = (subject: string): Promise<ControlOutcome> => this.restore('subject', subject);
  restoreEmail = (address: string): Promise<ControlOutcome> => this.restore('email', address);

  async disconnectSession(session: string): Promise<ControlOutcome> {
    const foundHere = await this.options.local.disconnect(session);
    return { ...(await this.send({ op: 'disconnect', session })), foundHere };
  }

  /** Nothing is held open between calls (each opens its own connection): kept for the console's symmetry. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  async revoke(kind: RevocationKind, value: string, now = Date.now()): Promise<ControlOutcome> {
    const entry: Revocation = { kind, value, until: now + this.options.lifetimeSeconds * 1000 };
    await this.options.local.revoke(entry);
    const outcome = await this.send({ op: 'revoke', ...entry });
    this.options.logger?.info({ kind, value, fleet: outcome.fleet }, 'A revocation was made.');
    return { ...outcome, until: new Date(entry.until).toISOString() };
  }

  async restore(kind: RevocationKind, value: string): Promise<ControlOutcome> {
    await this.options.local.restore({ kind, value });
    return this.send({ op: 'restore', kind, value });
  }

  /** Store and publish within the deadline; one connection per call, closed on every path. */
  private async send(message: ControlMessage): Promise<ControlOutcome> {
    const { state } = this.options;
    if (state === undefined) return { fleet: 'no-state' };
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
    const redis = controlClient(state, timeoutMs);
    redis.on('error', () => undefined); // the outcome says it
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([redis.connect().then(() => sendControl(redis, message)), deadline]);
      return { fleet: 'sent' };
    } catch (err) {
      const reason = `Redis at ${describeStateUrl(state)}: ${(err as Error).message}`;
      this.options.logger?.warn({ reason, op: message.op }, 'The fleet could not be told: Redis did not answer.');
      return { fleet: 'unreachable', reason };
    } finally {
      clearTimeout(timer);
      redis.disconnect(false);
    }
  }
}
