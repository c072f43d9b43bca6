/**
 * What the desktop shell does, without Electron: keeps the tray in step with the engine, routes
 * pinhole:// links to the window, hides on close, notifies on unexpected disconnects, and on Quit
 * (or OS shutdown) disconnects and restores the system proxy before the process exits.
 * app/main.ts passes in the Electron pieces; app/shell.test.ts passes fakes.
 */
import type { MenuItemConstructorOptions } from 'electron';
import type { Handlers, EventName, ProfileList, UiSettings } from '../shared/contract.js';
import type { Disposer, EngineStatus } from '../shared/engine-api.js';
import { LINK_SCHEME } from '../shared/link.js';
import { buildTrayMenu, trayImageFile, trayTooltip, type TrayState } from './tray-menu.js';
import { trayWords, type ShellWords } from './tray-words.js';

const ENGLISH: ShellWords = trayWords('en');

export interface ShellHost {
  handlers: Pick<Handlers, 'connect' | 'disconnect' | 'getStatus' | 'listProfiles' | 'getInfo' | 'getSettings' | 'checkConnection'>;
  onEvent(listener: (event: EventName, payload: unknown) => void): Disposer;
  shutdown(): Promise<void>;
}

export interface ShellDeps {
  host: ShellHost;
  platform: NodeJS.Platform;
  showWindow(): void;
  hideWindow(): void;
  /** Hands a link to the window (contract event `link`). */
  sendLink(link: string): void;
  notify(title: string, body: string): void;
  copy(text: string): void;
  setTray(image: string, tooltip: string, menu: MenuItemConstructorOptions[]): void;
  setLoginItem(openAtLogin: boolean): void;
  /** Ends the process for real (app.exit). */
  exit(code: number): void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** The tray menu's and notifications' words for the language setting (English when absent). */
  words?: (language: UiSettings['language']) => ShellWords;
}

/** The pinhole:// link in a command line (Windows/Linux hand the link over as an argument). */
export const linkFromArgv = (argv: readonly string[]): string | undefined => argv.find((arg) => arg.toLowerCase().startsWith(LINK_SCHEME));

export class DesktopShell {
  private quitting = false;
  private userDisconnected = false;
  private lastState: EngineStatus['state'] = 'disconnected';
  private tray: TrayState = { state: 'disconnected', profiles: [], activeProfileId: null, proxyAddress: '', shellExport: '' };
  private pendingLink: string | undefined;
  private windowReady = false;
  private stop: Disposer | undefined;
  private quitPromise: Promise<void> | undefined;
  private words: ShellWords = ENGLISH;

  constructor(private readonly deps: ShellDeps) {}

  /** Subscribes to the engine, draws the tray, applies start-up settings; `argv` may carry a link. */
  async start(argv: readonly string[] = []): Promise<void> {
    this.stop = this.deps.host.onEvent((event, payload) => void this.onEvent(event, payload));
    const [status, profiles, settings] = await Promise.all([
      this.deps.host.handlers.getStatus({}),
      this.deps.host.handlers.listProfiles({}),
      this.deps.host.handlers.getSettings({}),
    ]);
    this.applyProfiles(profiles as ProfileList);
    this.tray.state = (status as EngineStatus).state;
    this.applySettings(settings as UiSettings);
    await this.refreshTray();
    const link = linkFromArgv(argv);
    if (link) this.openLink(link);
    if ((settings as UiSettings).connectAtStart && this.tray.profiles.length > 0) this.connect();
  }

  /** The window's page is loaded and listening: deliver a link that arrived before it was. */
  windowLoaded(): void {
    this.windowReady = true;
    if (this.pendingLink) {
      this.deps.sendLink(this.pendingLink);
      this.pendingLink = undefined;
    }
  }

  windowGone(): void {
    this.windowReady = false;
  }

  /** A second launch: focus our window, and take over its pinhole:// link if it had one. */
  secondInstance(argv: readonly string[]): void {
    this.deps.showWindow();
    const link = linkFromArgv(argv);
    if (link) this.openLink(link);
  }

  /** macOS `open-url`. */
  openUrl(url: string): void {
    if (url.toLowerCase().startsWith(LINK_SCHEME)) this.openLink(url);
  }

  /** The window's close button hides to the tray; only Quit really closes. Returns true to prevent. */
  windowClosing(): boolean {
    if (this.quitting) return false;
    this.deps.hideWindow();
    return true;
  }

  connect(profileId?: string): void {
    this.userDisconnected = false;
    void Promise.resolve()
      .then(() => this.deps.host.handlers.connect(profileId ? { profileId } : {}))
      .then(
      () => undefined,
      (error: unknown) => this.deps.notify('Pinhole', error instanceof Error ? error.message : String(error)),
    );
  }

  /** The tray's "Check my connection": the same check as Home's; the first failing hop's verdict and what to do, or that every hop passed. */
  checkConnection(): void {
    const words = this.words;
    void Promise.resolve()
      .then(() => this.deps.host.handlers.checkConnection({}))
      .then(
        (report) => {
          const failed = report.hops.find((hop) => hop.status === 'fail');
          this.deps.notify(words.checkConnection, failed ? [failed.verdict, failed.action].filter(Boolean).join(' ') : words.checkPassed);
        },
        (error: unknown) => this.deps.notify(words.checkConnection, error instanceof Error ? error.message : String(error)),
      );
  }

  disconnect(): void {
    this.userDisconnected = true;
    void Promise.resolve()
      .then(() => this.deps.host.handlers.disconnect({}))
      .catch(() => undefined);
  }

  /** Quit: disconnect and restore the system proxy first, then exit. Safe to call twice. */
  quit(): Promise<void> {
    this.quitPromise ??= (async () => {
      this.quitting = true;
      this.userDisconnected = true;
      try {
        await this.deps.host.shutdown();
      } catch (error) {
        this.deps.log?.('Quitting: the engine did not stop cleanly.', { error: String(error) });
      } finally {
        this.stop?.();
        this.deps.exit(0);
      }
    })();
    return this.quitPromise;
  }

  private openLink(link: string): void {
    this.deps.showWindow();
    if (this.windowReady) this.deps.sendLink(link);
    else this.pendingLink = link;
  }

  private applyProfiles(list: ProfileList): void {
    this.tray.profiles = list.profiles.map((p) => ({ id: p.id, name: p.name }));
    if (this.tray.state === 'disconnected' || this.tray.state === 'error' || !this.tray.activeProfileId) this.tray.activeProfileId = list.defaultId;
  }

  /** Returns true when the shell's words changed. */
  private applySettings(settings: UiSettings): boolean {
    this.deps.setLoginItem(settings.startAtLogin);
    const words = this.deps.words?.(settings.language) ?? ENGLISH;
    const changed = words !== this.words;
    this.words = words;
    return changed;
  }

  private async onEvent(event: EventName, payload: unknown): Promise<void> {
    if (event === 'status') {
      const status = payload as EngineStatus;
      const previous = this.lastState;
      this.lastState = status.state;
      this.tray.state = status.state;
      if (status.gateway) this.tray.gateway = status.gateway;
      this.tray.gateways = status.gateways;
      if (status.profile) {
        const match = this.tray.profiles.find((p) => p.name === status.profile);
        if (match) this.tray.activeProfileId = match.id;
      }
      const lost = previous === 'connected' && status.state !== 'connected';
      if (lost && !this.userDisconnected && !this.quitting) {
        const { title, body } = this.words.lostConnection;
        this.deps.notify(title, status.error?.message ?? body);
      }
      if (status.state === 'connected') this.userDisconnected = false;
      await this.refreshTray();
    } else if (event === 'profiles') {
      this.applyProfiles(payload as ProfileList);
      await this.refreshTray();
    } else if (event === 'settings') {
      if (this.applySettings(payload as UiSettings)) await this.refreshTray();
    }
  }

  private async refreshTray(): Promise<void> {
    try {
      const info = (await this.deps.host.handlers.getInfo({})) as { proxyAddress: string; shellExport: string };
      this.tray.proxyAddress = info.proxyAddress;
      this.tray.shellExport = info.shellExport;
    } catch {
      // Keep the last known addresses; the tray must still redraw.
    }
    const words = this.words;
    const menu = buildTrayMenu(
      this.tray,
      {
        connect: (id) => this.connect(id),
        disconnect: () => this.disconnect(),
        open: () => this.deps.showWindow(),
        copy: (text) => this.deps.copy(text),
        checkConnection: () => this.checkConnection(),
        quit: () => void this.quit(),
      },
      words,
    );
    this.deps.setTray(trayImageFile(this.tray.state, this.deps.platform), trayTooltip(this.tray, words), menu);
  }

  get isQuitting(): boolean {
    return this.quitting;
  }
}
