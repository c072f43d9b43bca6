/**
 * The main window, locked down: context isolation, sandbox, no Node in the page, a strict CSP
 * (served with the page by app/protocol.ts), no navigation away, no new windows; external links
 * open in the browser only when they are on the allow-list.
 */
import type { BrowserWindowConstructorOptions, Event as ElectronEvent, HandlerDetails, WebContents, WindowOpenHandlerResponse } from 'electron';
import { APP_ORIGIN } from './channels.js';

/** Sites the UI may link to (documentation, the project's pages). */
export const EXTERNAL_ALLOW_LIST: readonly string[] = ['https://github.com', 'https://pinhole.dev'];

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

export const windowOptions = (preloadPath: string, iconPath?: string): BrowserWindowConstructorOptions => ({
  width: 880,
  height: 620,
  minWidth: 640,
  minHeight: 480,
  show: false,
  title: 'Pinhole',
  ...(iconPath ? { icon: iconPath } : {}),
  autoHideMenuBar: true,
  webPreferences: {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
    navigateOnDragDrop: false,
  },
});

export const isAllowedExternal = (url: string, allowList: readonly string[] = EXTERNAL_ALLOW_LIST): boolean => {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' && allowList.some((allowed) => new URL(allowed).origin === parsed.origin);
  } catch {
    return false;
  }
};

export const isOwnPage = (url: string): boolean => {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}` === APP_ORIGIN;
  } catch {
    return false;
  }
};

export interface HardenOptions {
  openExternal: (url: string) => void;
  allowList?: readonly string[];
  onBlocked?: (what: string, url: string) => void;
}

type Contents = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

/** Denies navigation away from our page and every window.open; allow-listed links go to the browser. */
export const hardenWebContents = (contents: Contents, options: HardenOptions): void => {
  const external = (url: string): void => {
    if (isAllowedExternal(url, options.allowList)) options.openExternal(url);
    else options.onBlocked?.('external link', url);
  };
  contents.setWindowOpenHandler((details: HandlerDetails): WindowOpenHandlerResponse => {
    external(details.url);
    return { action: 'deny' };
  });
  const block = (event: ElectronEvent, url: string): void => {
    if (isOwnPage(url)) return;
    event.preventDefault();
    external(url);
  };
  contents.on('will-navigate', block as never);
  contents.on('will-redirect', block as never);
  contents.on('will-attach-webview', ((event: ElectronEvent) => event.preventDefault()) as never);
};
