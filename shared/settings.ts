/**
 * The app-wide settings the profile store keeps beside the profiles (one schema for the headless
 * `conf` store, the desktop app's electron-store and the UI's settings page).
 */
import { z } from 'zod';

export const SettingsSchema = z.object({
  /** The profile `pinhole connect` and the tray use when none is named. */
  defaultProfileId: z.string().min(1).nullable().default(null),
  /** Local proxy port on 127.0.0.1; 0 picks a free one. */
  localPort: z.number().int().min(0).max(65535).default(0),
  systemProxyOnConnect: z.boolean().default(false),
  proxyMode: z.enum(['pac', 'manual']).default('pac'),
  /** Extra hosts that bypass the system proxy (loopback and local networks always do). */
  bypass: z.array(z.string().min(1).max(253)).max(500).default([]),
  startAtLogin: z.boolean().default(false),
  connectAtStart: z.boolean().default(false),
  theme: z.enum(['system', 'light', 'dark']).default('system'),
  language: z.enum(['en', 'zh-CN', 'es']).default('en'),
  /** Corporate proxy in front of the gateway, "host:port" (its password, if any, is in the keychain); "" for none. */
  upstreamProxy: z.string().max(300).default(''),
});
export type Settings = z.infer<typeof SettingsSchema>;
export const SettingsPatchSchema = SettingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});
