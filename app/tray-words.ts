/**
 * What the desktop shell says outside the window (the tray menu, the lost-connection
 * notification) in the user's language, from the same catalogues the window uses
 * (shared/i18n/*.json, section `tray`). 'system' follows the OS locale, which app/main.ts reads
 * from Electron's app.getLocale() and passes in.
 */
import en from '../shared/i18n/en.json' with { type: 'json' };
import es from '../shared/i18n/es.json' with { type: 'json' };
import zhCN from '../shared/i18n/zh-CN.json' with { type: 'json' };
import type { LANGUAGES } from '../shared/contract.js';
import type { TrayWords } from './tray-menu.js';

export type TrayLanguage = (typeof LANGUAGES)[number];

/** The tray menu's words, and the notification shown when the connection drops without the user asking. */
export interface ShellWords extends TrayWords {
  lostConnection: {
    title: string;
    /** Shown when the engine gave no reason of its own. */
    body: string;
  };
}

const catalogues: Record<TrayLanguage, { tray: ShellWords }> = { en, 'zh-CN': zhCN, es };

/** A BCP 47 locale ("es-419", "zh-Hans-CN", "en-US") to a language we ship; English otherwise. */
export const languageForLocale = (locale: string): TrayLanguage => {
  const tag = locale.toLowerCase();
  if (tag.startsWith('zh')) return 'zh-CN';
  if (tag.startsWith('es')) return 'es';
  return 'en';
};

/** The language setting ('en' | 'zh-CN' | 'es', or 'system'/unknown → the OS locale). */
export const trayLanguage = (setting: string | undefined, osLocale: () => string): TrayLanguage =>
  setting && Object.hasOwn(catalogues, setting) ? (setting as TrayLanguage) : languageForLocale(osLocale());

export const trayWords = (language: TrayLanguage): ShellWords => catalogues[language].tray;
