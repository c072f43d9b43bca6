/**
 * The contract over Electron IPC, main side. Only calls from our own window's top-level frame,
 * loaded from our own origin, reach the dispatcher (VS Code's ipcMain checks, Electron's security
 * checklist); everything else is refused with PINHOLE_CONTRACT_INVALID and logged. The dispatcher
 * validates every payload against the shared schemas, as the console's WebSocket does.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { createServer, type ContractServer, type Dispatch, type EventName, type Handlers, type Reply } from '../shared/contract.js';
import type { Disposer } from '../shared/engine-api.js';
import { APP_ORIGIN, EVENT_CHANNEL, INVOKE_CHANNEL } from './channels.js';

type SenderEvent = Pick<IpcMainInvokeEvent, 'senderFrame' | 'sender'>;

export interface IpcOptions {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  handlers: Handlers;
  /** The windows allowed to talk to the engine (usually the one main window). */
  trustedContents: () => WebContents[];
  onRefused?: (reason: string) => void;
  origin?: string;
}

/** Why a sender is refused, or undefined when it is our own top-level frame on our origin. */
export const refuseSender = (event: SenderEvent, trusted: readonly WebContents[], origin = APP_ORIGIN): string | undefined => {
  const frame = event.senderFrame;
  if (!frame) return 'the sending frame is gone';
  if (!trusted.includes(event.sender)) return 'the sender is not a Pinhole window';
  if (frame !== event.sender.mainFrame || frame.parent !== null) return 'the sender is not the top-level frame';
  let frameOrigin: string;
  try {
    // URL.origin is "null" for custom schemes outside Chromium, so build it from protocol and host.
    const url = new URL(frame.url);
    frameOrigin = `${url.protocol}//${url.host}`;
  } catch {
    return 'the sender has no valid URL';
  }
  if (frameOrigin !== origin) return `the sender's origin ${frameOrigin} is not ${origin}`;
  return undefined;
};

export interface ContractIpc {
  server: ContractServer;
  dispose: Disposer;
}

export const registerContractIpc = (options: IpcOptions): ContractIpc => {
  const { ipcMain } = options;
  const transport = {
    serve(dispatch: Dispatch): Disposer {
      ipcMain.handle(INVOKE_CHANNEL, async (event, name: unknown, input: unknown): Promise<Reply> => {
        const reason = refuseSender(event, options.trustedContents(), options.origin);
        if (reason) {
          options.onRefused?.(reason);
          return { ok: false, error: { code: 'PINHOLE_CONTRACT_INVALID', message: `Refused: ${reason}.` } };
        }
        return dispatch(name, input);
      });
      return () => ipcMain.removeHandler(INVOKE_CHANNEL);
    },
    publish(event: EventName, payload: unknown): void {
      for (const contents of options.trustedContents()) {
        if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, { name: event, payload });
      }
    },
  };
  const server = createServer(options.handlers, transport);
  return { server, dispose: () => server.dispose() };
};
