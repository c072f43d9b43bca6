/**
 * An adapter over an in-memory settings map, for tests of the platform-independent parts
 * (state, session, watchdog loop). Writes are recorded in order; `failAfter: N` makes the write
 * after N successful ones fail once, to test undoing a half-applied change.
 */
import { PinholeError } from '../../shared/errors.js';
import type { ProxyFields, ProxySettings, ProxySnapshot, SystemProxyAdapter } from './types.js';

export interface MemoryAdapter extends SystemProxyAdapter {
  fields: ProxyFields;
  writes: Array<[string, string | null]>;
  onWrite?: (name: string) => void;
  failAfter?: number;
}

export const createMemoryAdapter = (initial: ProxyFields): MemoryAdapter => {
  const adapter: MemoryAdapter = {
    name: 'memory',
    fields: { ...initial },
    writes: [],
    snapshot: async () => ({ adapter: 'memory', fields: { ...adapter.fields } }),
    read: async () => ({ adapter: 'memory', fields: { ...adapter.fields } }),
    plan: (settings: ProxySettings, current: ProxySnapshot) => {
      const fields: ProxyFields = {};
      for (const name of Object.keys(current.fields)) {
        if (name.endsWith('mode')) fields[name] = settings.mode;
        else if (name.endsWith('server')) fields[name] = settings.mode === 'manual' ? `${settings.host}:${settings.port}` : null;
        else if (name.endsWith('pac')) fields[name] = settings.mode === 'pac' ? settings.pacUrl : current.fields[name] ?? null;
        else if (name.endsWith('bypass')) fields[name] = settings.mode === 'manual' ? settings.bypass.join(',') : current.fields[name] ?? null;
      }
      return { adapter: 'memory', fields };
    },
    apply: async (settings) => adapter.restore(adapter.plan(settings, await adapter.read())),
    restore: async (snapshot) => {
      for (const [name, value] of Object.entries(snapshot.fields)) {
        if (adapter.failAfter !== undefined && adapter.writes.length >= adapter.failAfter) {
          adapter.failAfter = undefined;
          throw new PinholeError('PINHOLE_SYSTEM_PROXY_FAILED', `writing ${name} failed`);
        }
        adapter.onWrite?.(name);
        adapter.writes.push([name, value]);
        adapter.fields[name] = value;
      }
    },
  };
  return adapter;
};
