import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IpcMainInvokeEvent, WebContents } from 'electron';
import { COMMAND_NAMES, type Handlers, type Reply } from '../shared/contract.js';
import { INVOKE_CHANNEL, EVENT_CHANNEL, APP_INDEX_URL } from './channels.js';
import { refuseSender, registerContractIpc } from './ipc.js';

type Handler = (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<Reply>;

const fakeIpcMain = () => {
  const handlers = new Map<string, Handler>();
  return {
    handlers,
    handle: (channel: string, handler: Handler) => void handlers.set(channel, handler),
    removeHandler: (channel: string) => void handlers.delete(channel),
  };
};

const frame = (url: string, parent: unknown = null) => ({ url, parent });
const contents = (url = APP_INDEX_URL) => {
  const sent: unknown[] = [];
  const c = { mainFrame: frame(url), isDestroyed: () => false, send: (channel: string, message: unknown) => sent.push([channel, message]), sent };
  return c;
};

const recordingHandlers = () => {
  const calls: string[] = [];
  const handlers = Object.fromEntries(
    COMMAND_NAMES.map((name) => [name, () => (calls.push(name), name === 'getStatus' ? { state: 'disconnected', since: 1 } : {})]),
  ) as unknown as Handlers;
  return { calls, handlers };
};

const eventFrom = (sender: ReturnType<typeof contents>, senderFrame: unknown) => ({ sender, senderFrame }) as unknown as IpcMainInvokeEvent;

test('calls from our own top-level frame reach the engine; events go to our window only', async () => {
  const ipcMain = fakeIpcMain();
  const win = contents();
  const { calls, handlers } = recordingHandlers();
  const ipc = registerContractIpc({ ipcMain, handlers, trustedContents: () => [win as unknown as WebContents] });
  const invoke = ipcMain.handlers.get(INVOKE_CHANNEL);
  assert.ok(invoke);
  const reply = await invoke(eventFrom(win, win.mainFrame), 'getStatus', {});
  assert.deepEqual(reply, { ok: true, result: { state: 'disconnected', since: 1, warnings: [] } });
  ipc.server.emit('stats', { openTunnels: 1, totalTunnels: 1, bytesUp: 0, bytesDown: 0, rttMs: 12, gatewayConnections: 1 });
  assert.equal(win.sent.length, 1);
  assert.equal((win.sent[0] as unknown[])[0], EVENT_CHANNEL);
  assert.throws(() => ipc.server.emit('stats', { openTunnels: 'lots' } as never), { code: 'PINHOLE_CONTRACT_INVALID' });
  ipc.dispose();
  assert.equal(ipcMain.handlers.size, 0);
  assert.deepEqual(calls, ['getStatus']);
});

test('subframes, other windows and other origins are refused and nothing runs', async () => {
  const ipcMain = fakeIpcMain();
  const win = contents();
  const stranger = contents();
  const evil = contents('https://evil.example/');
  const refused: string[] = [];
  const { calls, handlers } = recordingHandlers();
  registerContractIpc({ ipcMain, handlers, trustedContents: () => [win, evil] as unknown as WebContents[], onRefused: (r) => refused.push(r) });
  const invoke = ipcMain.handlers.get(INVOKE_CHANNEL) as Handler;
  const iframe = frame(APP_INDEX_URL, win.mainFrame);
  for (const [event, why] of [
    [eventFrom(win, iframe), /top-level frame/],
    [eventFrom(stranger, stranger.mainFrame), /not a Pinhole window/],
    [eventFrom(evil, evil.mainFrame), /origin https:\/\/evil.example is not app:\/\/pinhole/],
    [eventFrom(win, null), /frame is gone/],
  ] as const) {
    const reply = await invoke(event, 'disconnect', {});
    assert.equal(reply.ok, false);
    assert.equal(!reply.ok && reply.error.code, 'PINHOLE_CONTRACT_INVALID');
    assert.match(!reply.ok ? reply.error.message : '', why);
  }
  assert.equal(refused.length, 4);
  assert.deepEqual(calls, []);
});

test('bad input through IPC is refused by the same schemas as the console', async () => {
  const ipcMain = fakeIpcMain();
  const win = contents();
  const { calls, handlers } = recordingHandlers();
  registerContractIpc({ ipcMain, handlers, trustedContents: () => [win as unknown as WebContents] });
  const invoke = ipcMain.handlers.get(INVOKE_CHANNEL) as Handler;
  for (const [name, input] of [['nope', {}], ['setAppRule', { path: 1 }], ['importLink', { link: 'x'.repeat(300 * 1024) }]] as const) {
    const reply = await invoke(eventFrom(win, win.mainFrame), name, input);
    assert.equal(!reply.ok && reply.error.code, 'PINHOLE_CONTRACT_INVALID', name);
  }
  assert.deepEqual(calls, []);
  assert.equal(refuseSender(eventFrom(win, win.mainFrame), [win as unknown as WebContents]), undefined);
});
