import type { TFunction } from 'i18next';
import type { Info } from '../shared/contract.js';

/**
 * Where passwords are kept, in the UI's language: the engine's own words in English (they name the
 * provider, e.g. "in the GNOME Keyring (Secret Service)"), the catalogue's words by kind otherwise.
 */
export const whereStored = (info: Info | undefined, t: TFunction, language: string): string => {
  if (!info) return t('profiles.keychainUnknown');
  if (language === 'en') return info.keychain.location;
  return t(`keychainKinds.${info.keychain.kind}`, { defaultValue: info.keychain.location });
};
