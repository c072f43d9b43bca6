/** The UI's words live in the catalogues in shared/i18n (the tray menu uses them too); nothing user-visible is hard-coded. */
import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import type { UiSettings } from '../../shared/contract.js';
import en from '../../shared/i18n/en.json' with { type: 'json' };
import es from '../../shared/i18n/es.json' with { type: 'json' };
import zhCN from '../../shared/i18n/zh-CN.json' with { type: 'json' };

export const catalogues = { en, 'zh-CN': zhCN, es } as const;
export type Language = keyof typeof catalogues;

/** The first of the browser's / OS's preferred languages (navigator.languages) that we ship; English otherwise. */
export const detectLanguage = (preferred: readonly string[]): Language => {
  for (const tag of preferred) {
    if (tag.toLowerCase().startsWith('zh')) return 'zh-CN';
    if (tag.toLowerCase().startsWith('es')) return 'es';
    if (tag.toLowerCase().startsWith('en')) return 'en';
  }
  return 'en';
};

/** The language to show for the setting: an explicit choice as is; 'system' (or one we do not know) from the preferred languages. */
export const languageFor = (setting: UiSettings['language'] | undefined, preferred: readonly string[]): Language =>
  setting && Object.hasOwn(catalogues, setting) ? (setting as Language) : detectLanguage(preferred);

export const setupI18n = async (language: Language): Promise<typeof i18next> => {
  await i18next.use(initReactI18next).init({
    resources: Object.fromEntries(Object.entries(catalogues).map(([lng, translation]) => [lng, { translation }])),
    lng: language,
    fallbackLng: 'en',
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  document.documentElement.lang = language;
  i18next.on('languageChanged', (lng) => {
    document.documentElement.lang = lng;
  });
  return i18next;
};
