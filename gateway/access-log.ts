/** One JSON line per tunnel or request, written when it ends. Never a secret. */
import type { RelayResult } from '../node/relay.js';
import type { Logger } from '../shared/log.js';

export interface AccessRecord {
  user: string | undefined;
  target: string;
  method: string;
  status: number;
  code?: string | undefined;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  proto: 'h2' | 'http/1.1' | 'wss';
  connId: number | string | undefined;
  client: string | undefined;
  /**
   * UDP flows (method CONNECT-UDP): datagrams each way and why the flow ended ('idle', 'closed', 'error').
   * TCP tunnels the relay ended for silence: 'idle-timeout' or 'half-close-timeout'; the gateway ended
   * for a revocation ('revoked') or the operator's disconnect ('disconnected'); absent otherwise.
   */
  datagramsUp?: number;
  datagramsDown?: number;
  end?: string;
}

export type AccessLog = (record: AccessRecord) => void;

export const accessLogTo =
  (logger: Logger): AccessLog =>
  (record) =>
    logger.info(record, 'A tunnel closed.');

/** `{ end: 'idle-timeout' | 'half-close-timeout' }` for a tunnel the relay ended for silence, else nothing. */
export const relayEnd = (timedOut: RelayResult['timedOut']): Pick<AccessRecord, 'end'> => (timedOut === undefined ? {} : { end: `${timedOut}-timeout` });
