/**
 * The engine's connection state (disconnected / connecting / connected / reconnecting / error), held
 * in one place: the engine and the reconnect (reconnect.ts) both change it, every front end reads
 * it. Emits 'change' after each change; `since` moves only when the state itself changed.
 */
import { EventEmitter } from 'node:events';
import type { EngineState, EngineStatus } from '../shared/engine-api.js';

export type StatusChange = Omit<EngineStatus, 'since'> & { since?: number; state: EngineState };

export class ConnectionStatus extends EventEmitter {
  private status: EngineStatus = { state: 'disconnected', since: Date.now(), warnings: [] };

  get current(): EngineStatus {
    return this.status;
  }

  get state(): EngineState {
    return this.status.state;
  }

  set(next: StatusChange): void {
    const changed = next.state !== this.status.state;
    const status: EngineStatus = { ...next, since: changed ? Date.now() : (next.since ?? this.status.since), warnings: next.warnings ?? [] };
    for (const key of Object.keys(status) as Array<keyof EngineStatus>) if (status[key] === undefined) delete status[key];
    this.status = status;
    this.emit('change');
  }
}
