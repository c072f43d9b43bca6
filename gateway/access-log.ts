/** One JSON line per tunnel or request, written when it ends. Never a secret. */
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
  /** UDP flows (method CONNECT-UDP): datagrams each way and why the flow ended ('idle', 'closed', 'error'). */
  datagramsUp?: number;
  datagramsDown?: number;
  end?: string;
}

export type AccessLog = (record: AccessRecord) => void;

export const accessLogTo =
  (logger: Logger): AccessLog =>
  (record) =>
    logger.info(record, 'A tunnel closed.');
