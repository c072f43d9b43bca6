/**
 * How the renderer reaches the engine: the Electron preload's `window.pinhole` when present,
 * otherwise the console's WebSocket on this page's own origin. Either way the UI sees one typed
 * client made by `createClient` from the shared contract.
 */
import { createClient, createFrameClientTransport, type Client, type ClientTransport } from '../shared/contract.js';

declare global {
  interface Window {
    /** Exposed by app/preload.ts through contextBridge: only invoke and subscribe. */
    pinhole?: ClientTransport;
  }
}

export interface Connection {
  client: Client;
  /** Called when the console connection is lost, with the server's reason. */
  onClose(listener: (reason: string) => void): () => void;
  ready: Promise<void>;
}

export const connect = (): Connection => {
  if (window.pinhole) {
    return { client: createClient(window.pinhole), onClose: () => () => undefined, ready: Promise.resolve() };
  }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${scheme}//${location.host}/ws`);
  const closeListeners = new Set<(reason: string) => void>();
  const queue: string[] = [];
  const ready = new Promise<void>((resolve) => socket.addEventListener('open', () => resolve(), { once: true }));
  socket.addEventListener('open', () => {
    for (const text of queue.splice(0)) socket.send(text);
  });
  const transport = createFrameClientTransport({
    send(text) {
      if (socket.readyState === WebSocket.OPEN) socket.send(text);
      else if (socket.readyState === WebSocket.CONNECTING) queue.push(text);
      else throw new Error('closed');
    },
    onMessage(listener) {
      const handler = (event: MessageEvent): void => {
        if (typeof event.data === 'string') listener(event.data);
      };
      socket.addEventListener('message', handler);
      return () => socket.removeEventListener('message', handler);
    },
  });
  socket.addEventListener('close', (event) => {
    transport.dispose();
    for (const listener of closeListeners) listener(event.reason);
  });
  return {
    client: createClient(transport),
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    ready,
  };
};
