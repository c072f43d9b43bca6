/**
 * Electron main process: wiring only. Every decision lives in a module with the Electron API passed
 * in (shell.ts, tray-menu.ts, ipc.ts, window.ts, protocol.ts); this file connects them to the real
 * app, tray, window, protocol, power monitor and notifications.
 */
import { BrowserWindow, Menu, Notification, Tray, app, clipboard, dialog, ipcMain, nativeImage, powerMonitor, protocol, shell } from 'electron';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../shared/log.js';
import { startupDialog } from '../shared/startup-failure.js';
import { composeHost } from '../main/console/compose.js';
import { APP_INDEX_URL, APP_SCHEME } from './channels.js';
import { setLinuxAutostart } from './autostart.js';
import { registerContractIpc } from './ipc.js';
import { rendererResponse } from './protocol.js';
import { DesktopShell } from './shell.js';
import { trayLanguage, trayWords } from './tray-words.js';
import { hardenWebContents, windowOptions } from './window.js';

const here = dirname(fileURLToPath(import.meta.url));
// Packaged: dist/app/main.js beside renderer/dist and build/icons (see electron-builder.yml `files`).
const appRoot = join(here, '..', '..');
const rendererDir = join(appRoot, 'renderer', 'dist');
const iconDir = join(appRoot, 'build', 'icons');
const logger = createLogger({ name: 'pinhole-app' });

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

if (!app.requestSingleInstanceLock()) {
  app.exit(0);
} else {
  if (process.defaultApp && process.argv[1]) app.setAsDefaultProtocolClient('pinhole', process.execPath, [process.argv[1]]);
  else app.setAsDefaultProtocolClient('pinhole');

  let window: BrowserWindow | undefined;
  let tray: Tray | undefined;
  let desktop: DesktopShell | undefined;
  const early: string[] = [];
  app.on('open-url', (event, url) => {
    event.preventDefault();
    if (desktop) desktop.openUrl(url);
    else early.push(url);
  });

  void app.whenReady().then(async () => {
    protocol.handle(APP_SCHEME, async (request) => {
      const file = await rendererResponse(request.url, rendererDir, (path) => readFile(path));
      return new Response(file.body as BodyInit, { status: file.status, headers: file.headers });
    });
    let host: Awaited<ReturnType<typeof composeHost>>['host'];
    try {
      ({ host } = await composeHost({ logger }));
    } catch (error) {
      // Say the cause in words and stop (the CLIs' sentence and code); a bug's details go to a file the dialog names.
      const logFile = join(app.getPath('logs'), 'startup-error.log');
      const written = await mkdir(dirname(logFile), { recursive: true })
        .then(() => writeFile(logFile, `${new Date().toISOString()} ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`))
        .then(() => true, () => false);
      const shown = startupDialog(error, written ? `in ${logFile}` : 'on the standard output of the terminal that started Pinhole');
      logger.error({ err: error }, 'Pinhole could not start.');
      dialog.showErrorBox(shown.title, shown.message);
      app.exit(shown.exitCode);
      return;
    }

    const showWindow = (): void => {
      if (!window || window.isDestroyed()) {
        window = new BrowserWindow(windowOptions(join(here, 'preload.cjs'), join(iconDir, 'icon.png')));
        hardenWebContents(window.webContents, {
          openExternal: (url) => void shell.openExternal(url),
          onBlocked: (what, url) => logger.warn({ what, url }, 'The window tried to leave Pinhole; it was blocked.'),
        });
        window.on('close', (event) => {
          if (desktop?.windowClosing()) event.preventDefault();
        });
        window.on('closed', () => {
          window = undefined;
          desktop?.windowGone();
        });
        window.webContents.on('did-finish-load', () => desktop?.windowLoaded());
        window.once('ready-to-show', () => window?.show());
        void window.loadURL(APP_INDEX_URL);
      } else {
        if (window.isMinimized()) window.restore();
        window.show();
        window.focus();
      }
    };

    const ipc = registerContractIpc({
      ipcMain,
      handlers: host.handlers,
      trustedContents: () => (window && !window.isDestroyed() ? [window.webContents] : []),
      onRefused: (reason) => logger.warn({ reason }, 'An IPC call was refused.'),
    });
    host.onEvent((event, payload) => {
      try {
        ipc.server.emit(event, payload as never);
      } catch (error) {
        logger.error({ err: error, event }, 'An engine event did not match the contract.');
      }
    });

    desktop = new DesktopShell({
      host,
      platform: process.platform,
      showWindow,
      hideWindow: () => window?.hide(),
      sendLink: (link) => ipc.server.emit('link', { link }),
      notify: (title, body) => {
        if (Notification.isSupported()) new Notification({ title, body }).show();
      },
      copy: (text) => clipboard.writeText(text),
      setTray: (image, tooltip, menu) => {
        const icon = nativeImage.createFromPath(join(iconDir, 'tray', image));
        if (process.platform === 'darwin') icon.setTemplateImage(true);
        if (!tray) {
          tray = new Tray(icon);
          // Reachable from Playwright's Electron tests (test/ui/electron.spec.ts).
          (globalThis as { pinholeTray?: Tray }).pinholeTray = tray;
        }
        tray.setImage(icon);
        tray.setToolTip(tooltip);
        tray.setContextMenu(Menu.buildFromTemplate(menu));
      },
      setLoginItem: (openAtLogin) => {
        if (process.platform !== 'linux') app.setLoginItemSettings({ openAtLogin, args: ['--hidden'] });
        else {
          const configHome = process.env.XDG_CONFIG_HOME ?? join(app.getPath('home'), '.config');
          void setLinuxAutostart(openAtLogin, process.env.APPIMAGE ?? process.execPath, configHome).catch((error: unknown) =>
            logger.warn({ err: error }, 'The autostart entry could not be written.'),
          );
        }
      },
      exit: (code) => app.exit(code),
      log: (message, fields) => logger.warn(fields ?? {}, message),
      words: (language) => trayWords(trayLanguage(language, () => app.getLocale())),
    });

    app.on('second-instance', (_event, argv) => desktop?.secondInstance(argv));
    app.on('window-all-closed', () => {
      // Stay in the tray.
    });
    app.on('activate', showWindow);
    app.on('before-quit', (event) => {
      if (!desktop?.isQuitting) {
        event.preventDefault();
        void desktop?.quit();
      }
    });
    powerMonitor.on('shutdown', () => void desktop?.quit());
    // Roaming (issue 20): the OS's word that the computer woke up goes to the engine, which checks its connection at once.
    powerMonitor.on('resume', () => host.networkChanged('resume'));
    powerMonitor.on('unlock-screen', () => host.networkChanged('os'));
    app.on('session-end' as never, () => void desktop?.quit());
    process.once('SIGTERM', () => void desktop?.quit());

    await desktop.start(process.argv);
    for (const url of early.splice(0)) desktop.openUrl(url);
    if (!process.argv.includes('--hidden')) showWindow();
  });
}
