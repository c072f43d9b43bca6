/**
 * What one gateway knows of revocations: the `revoked` file beside it (re-read when it changes)
 * and the fleet's deny list (a Redis snapshot at each connection, then each message). Tunnels ask
 * `refusing` in memory, never Redis. A revocation this gateway had not known emits 'revoked', and
 * a fleet `disconnect` emits 'disconnect': the gateway ends the matching sessions' tunnels.
 */
import { EventEmitter } from 'node:events';
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import type { Principal } from '../auth/principal.js';
import type { ControlMessage } from './fleet-channel.js';
import { RevocationList, type Revocation, type RevocationTarget } from './revocation-list.js';
import { readRevokedFile } from './revoked-file.js';

export type RevocationEvents = { revoked: [RevocationTarget]; restored: [RevocationTarget]; disconnect: [string] };

/** How often the revoked file's modification time is looked at. */
const WATCH_INTERVAL_MS = 1_000;

export class Revocations extends EventEmitter<RevocationEvents> {
  private readonly fromFile = new RevocationList();
  private readonly fromFleet = new RevocationList();

  constructor(
    private readonly file: string,
    private readonly logger: Logger,
  ) {
    super();
  }

  /** The revocation that refuses `principal`, if any. */
  refusing(principal: Principal): Revocation | undefined {
    return this.fromFile.refusing(principal) ?? this.fromFleet.refusing(principal);
  }

  /** Read the file; a bad line is skipped and named in the log (a revocation is never dropped for its neighbour). */
  load(): void {
    try {
      const { entries, badLines } = readRevokedFile(this.file);
      if (badLines.length > 0) this.logger.warn({ file: this.file, lines: badLines }, 'Some lines of the revoked file are not KIND VALUE UNTIL; they were skipped.');
      for (const entry of this.fromFile.replace(entries)) this.announce(entry, 'file');
    } catch (err) {
      this.logger.warn({ file: this.file, err: (err as Error).message }, 'The revoked file could not be read; the revocations known before stay.');
    }
  }

  watch(): void {
    watchFile(this.file, { interval: WATCH_INTERVAL_MS }, () => this.load());
  }

  unwatch(): void {
    unwatchFile(this.file);
  }

  /** A revocation made in this process (the operator console): in force at once; the revoked file, written by the caller, keeps it. */
  revokeHere(entry: Revocation): void {
    if (this.fromFile.add(entry)) this.announce(entry, 'file');
    else this.emit('revoked', entry);
  }

  restoreHere(target: RevocationTarget): void {
    this.fleetMessage({ op: 'restore', kind: target.kind, value: target.value });
  }

  /** The stored fleet list, read at a (re)connection. */
  fleetSnapshot(entries: Revocation[]): void {
    for (const entry of this.fromFleet.replace(entries)) this.announce(entry, 'fleet');
  }

  /** One fleet message (another gateway's CLI, the operator console). */
  fleetMessage(message: ControlMessage): void {
    switch (message.op) {
      case 'revoke':
        if (this.fromFleet.add(message)) this.announce(message, 'fleet');
        else this.emit('revoked', message); // known already: its tunnels end anyway (a user disable repeated)
        return;
      case 'restore':
        this.fromFleet.remove(message);
        this.fromFile.remove(message);
        this.logger.info({ kind: message.kind, value: message.value }, 'A revocation was lifted.');
        this.emit('restored', message);
        return;
      case 'disconnect':
        this.emit('disconnect', message.session);
        return;
    }
  }

  private announce(entry: Revocation, from: 'file' | 'fleet'): void {
    this.logger.info({ kind: entry.kind, value: entry.value, until: new Date(entry.until).toISOString(), from }, 'A revocation is in force: its tunnels end and new ones are refused.');
    this.emit('revoked', entry);
  }
}
