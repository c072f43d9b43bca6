/**
 * The app-wide settings the profile store keeps beside the profiles (one schema for the headless
 * `conf` store, the desktop app's electron-store and the UI's settings page).
 */
import { z } from 'zod';
import { LANGUAGE_SETTINGS } from './contract.js';

const fields = {
  /** The profile `pinhole connect` and the tray use when none is named. */
  defaultProfileId: z.string().min(1).nullable(),
  /** Local proxy port on 127.0.0.1; 0 picks a free one. */
  localPort: z.number().int().min(0).max(65535),
  systemProxyOnConnect: z.boolean(),
  proxyMode: z.enum(['pac', 'manual']),
  /** Extra hosts that bypass the system proxy (loopback and local networks always do). */
  bypass: z.array(z.string().min(1).max(253)).max(500),
  startAtLogin: z.boolean(),
  connectAtStart: z.boolean(),
  theme: z.enum(['system', 'light', 'dark']),
  /** 'system' follows the OS / browser languages; an explicit choice (stored by earlier versions too) wins. */
  language: z.enum(LANGUAGE_SETTINGS),
  /** Corporate proxy in front of the gateway, "host:port" (its password, if any, is in the keychain); "" for none. */
  upstreamProxy: z.string().max(300),
};

const StrictSettingsSchema = z.object(fields);
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
