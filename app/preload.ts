/**
 * The only bridge between the page and the engine: `window.pinhole.invoke(name, input)` and
 * `window.pinhole.subscribe(event, listener)`. No ipcRenderer, no Node, nothing else is exposed.
 * Bundled to CommonJS (build/build-app.mjs) because sandboxed preloads cannot load ES modules.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENT_CHANNEL, INVOKE_CHANNEL } from './channels.js';

contextBridge.exposeInMainWorld('pinhole', {
  invoke: (name: string, input: unknown): Promise<unknown> => ipcRenderer.invoke(INVOKE_CHANNEL, String(name), input),
  subscribe: (event: string, listener: (payload: unknown) => void): (() => void) => {
    const handler = (_event: IpcRendererEvent, message: { name?: unknown; payload?: unknown }): void => {
      if (message?.name === event) listener(message.payload);
    };
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => ipcRenderer.removeListener(EVENT_CHANNEL, handler);
  },
});
