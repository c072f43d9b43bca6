import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebContents } from 'electron';
import { CONTENT_SECURITY_POLICY, hardenWebContents, isAllowedExternal, windowOptions } from './window.js';
import { rendererResponse } from './protocol.js';
import { autostartEntry } from './autostart.js';

test('the window runs the page isolated: context isolation, sandbox, no Node', () => {
  const prefs = windowOptions('/app/preload.cjs').webPreferences ?? {};
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.webviewTag, false);
  assert.equal(prefs.preload, '/app/preload.cjs');
});

test('navigation away and window.open are denied; only allow-listed https links reach the browser', () => {
  const handlers = new Map<string, (event: { preventDefault(): void }, url: string) => void>();
  let openHandler: ((details: { url: string }) => { action: string }) | undefined;
  const opened: string[] = [];
  const blocked: string[] = [];
  const contents = {
    on: (name: string, fn: never) => void handlers.set(name, fn),
    setWindowOpenHandler: (fn: never) => void (openHandler = fn),
  } as unknown as WebContents;
  hardenWebContents(contents, { openExternal: (u) => opened.push(u), onBlocked: (_w, u) => blocked.push(u) });
  assert.deepEqual(openHandler?.({ url: 'https://github.com/pinhole/docs' }), { action: 'deny' });
  assert.deepEqual(openHandler?.({ url: 'https://evil.example/' }), { action: 'deny' });
  let prevented = 0;
  const ev = { preventDefault: () => void (prevented += 1) };
  handlers.get('will-navigate')?.(ev, 'file:///etc/passwd');
  handlers.get('will-navigate')?.(ev, 'app://pinhole/index.html');
  assert.equal(prevented, 1);
  assert.deepEqual(opened, ['https://github.com/pinhole/docs']);
  assert.deepEqual(blocked, ['https://evil.example/', 'file:///etc/passwd']);
  assert.equal(isAllowedExternal('http://github.com/'), false);
  assert.equal(isAllowedExternal('javascript:alert(1)'), false);
});

test('app:// serves the renderer with the CSP header and nothing outside its folder', async () => {
  const files = new Map([['/dist/index.html', 'page'], ['/dist/assets/a.js', 'js'], ['/secret', 'no']]);
  const read = async (path: string) => {
    const body = files.get(path);
    if (body === undefined) throw new Error('ENOENT');
    return new TextEncoder().encode(body);
  };
  const index = await rendererResponse('app://pinhole/', '/dist', read);
  assert.equal(index.status, 200);
  assert.equal(index.headers['Content-Security-Policy'], CONTENT_SECURITY_POLICY);
  assert.equal((await rendererResponse('app://pinhole/assets/a.js', '/dist', read)).headers['Content-Type'], 'text/javascript; charset=utf-8');
  assert.equal((await rendererResponse('app://pinhole/../secret', '/dist', read)).status, 404);
  assert.equal((await rendererResponse('app://pinhole/%2e%2e/secret', '/dist', read)).status, 404);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe/);
});

test('the Linux autostart entry starts Pinhole hidden in the tray, quoting the path', () => {
  const entry = autostartEntry('/home/a b/Pinhole.AppImage');
  assert.match(entry, /^Exec="\/home\/a b\/Pinhole.AppImage" --hidden$/m);
  assert.match(entry, /^\[Desktop Entry\]$/m);
});
