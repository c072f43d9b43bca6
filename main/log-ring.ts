/**
 * The engine's recent log, kept in memory for the UI: a pino destination that turns each JSON line
 * into a LogLine (sequence number, level, sentence, code, redacted fields), keeps the last N and
 * tells listeners. Redaction already happened in the logger, so nothing secret arrives here.
 */
import type { LogLine } from '../shared/engine-api.js';

const LEVELS: Record<string, LogLine['level']> = { trace: 'debug', debug: 'debug', info: 'info', warn: 'warn', error: 'error', fatal: 'error' };
const NUMERIC: Record<number, LogLine['level']> = { 10: 'debug', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };
const NOT_FIELDS = new Set(['level', 'time', 'msg', 'code', 'name', 'pid', 'hostname']);

export class LogRing {
  private readonly lines: LogLine[] = [];
  private seq = 0;
  private readonly listeners = new Set<(line: LogLine) => void>();

  constructor(private readonly capacity = 2000) {}

  /** pino DestinationStream */
  write(text: string): void {
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        record = { level: 'info', msg: raw };
      }
      this.push(record);
    }
  }

  push(record: Record<string, unknown>): LogLine {
    const level = typeof record.level === 'number' ? (NUMERIC[record.level] ?? 'info') : (LEVELS[String(record.level)] ?? 'info');
    const time = typeof record.time === 'number' ? record.time : typeof record.time === 'string' ? Date.parse(record.time) || Date.now() : Date.now();
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) if (!NOT_FIELDS.has(key)) fields[key] = value;
    const line: LogLine = {
      seq: ++this.seq,
      time,
      level,
      msg: typeof record.msg === 'string' ? record.msg : '',
      ...(typeof record.code === 'string' ? { code: record.code } : {}),
      fields,
    };
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
    for (const listener of this.listeners) listener(line);
    return line;
  }

  /** Oldest first; only lines after `afterSeq` when given. */
  get(afterSeq?: number): LogLine[] {
    return afterSeq === undefined ? [...this.lines] : this.lines.filter((line) => line.seq > afterSeq);
  }

  onLine(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
