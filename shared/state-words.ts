/**
 * The connection state as a sentence ("Connected to gw.example.com via HTTP/2", "Connection
 * failed: The Pinhole gateway could not be reached."), from the catalogues' `home.state` words:
 * the window and the terminal say the same thing. Pure; the UI passes its translation function,
 * the command line gets English.
 */
import en from './i18n/en.json' with { type: 'json' };
import type { EngineStatus } from './engine-api.js';

export const TRANSPORT_NAMES: Readonly<Record<string, string>> = { h2: 'HTTP/2', h1: 'HTTP/1.1', wss: 'WebSocket' };

export type StateWordKey = keyof typeof en.home.state;

/** Which `home.state` entry describes a status, and the values it needs. */
export const stateWords = (status: Pick<EngineStatus, 'state' | 'gateway' | 'transport' | 'error'>): { key: StateWordKey; values: Record<string, string> } => {
  const gateway = status.gateway ?? '';
  switch (status.state) {
    case 'connected': {
      const transport = TRANSPORT_NAMES[status.transport ?? ''] ?? status.transport ?? '';
      return transport ? { key: 'connected', values: { gateway, transport } } : { key: 'connectedPlain', values: { gateway } };
    }
    case 'connecting':
      return { key: 'connecting', values: { gateway } };
    case 'reconnecting':
      return { key: 'reconnecting', values: { gateway } };
    case 'error':
      return status.error ? { key: 'errorBecause', values: { reason: status.error.message } } : { key: 'error', values: {} };
    default:
      return { key: 'disconnected', values: {} };
  }
};

/** The English sentence for a status, for log lines (ends with a full stop, or the reason's own). */
export const stateSentence = (status: Pick<EngineStatus, 'state' | 'gateway' | 'transport' | 'error'>): string => {
  const { key, values } = stateWords(status);
  const text = en.home.state[key].replace(/\{\{(\w+)\}\}/g, (_, name: string) => values[name] ?? '').replace(/…$/, '');
  return /[.!?]$/.test(text) ? text : `${text}.`;
};
