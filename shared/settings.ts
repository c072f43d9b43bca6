/**
 * The app-wide settings the profile store keeps beside the profiles (one schema for the headless
 * `conf` store, the desktop app's electron-store and the UI's settings page).
 */
import { z } from 'zod';
import { LANGUAGE_SETTINGS, UiSettingsSchema, type UiSettings } from './contract.js';

/** What the UI edits (shared/contract.ts), plus the default profile, which the Profiles view sets. */
const StrictSettingsSchema = UiSettingsSchema.extend({
  /** The profile `pinhole connect` and the tray use when none is named. */
  defaultProfileId: z.string().min(1).nullable(),
  /** The passphrase-encrypted secrets file last chosen with --secrets-file (used when none is given). */
  secretsFile: z.string().min(1).optional(),
});
export type Settings = z.infer<typeof StrictSettingsSchema>;

export const DEFAULT_SETTINGS: Settings = {
  defaultProfileId: null,
  localPort: 0,
  systemProxyOnConnect: false,
  proxyMode: 'pac',
  bypass: [],
  startAtLogin: false,
  connectAtStart: false,
  theme: 'system',
  language: 'system',
  upstreamProxy: '',
};

/** The stored settings' defaults, less the default profile (the Profiles view owns that): what the UI starts from. */
const { defaultProfileId: _defaultProfile, ...uiDefaults } = DEFAULT_SETTINGS;
export const DEFAULT_UI_SETTINGS: UiSettings = uiDefaults;

const isLanguageSetting = (value: unknown): boolean => (LANGUAGE_SETTINGS as readonly unknown[]).includes(value);

/**
 * Full settings as stored: missing fields take their defaults, and a language this version does
 * not ship (a newer version's, a hand edit) follows the system rather than costing the other settings.
 */
export const SettingsSchema = z.preprocess((value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS, ...value };
  if (!isLanguageSetting(merged.language)) merged.language = 'system';
  return merged;
}, StrictSettingsSchema);
/** A change to some settings: only the given fields, unknown keys refused. */
export const SettingsPatchSchema = StrictSettingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;
