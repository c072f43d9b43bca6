/**
 * GNOME and the desktops that share its proxy schema (`org.gnome.system.proxy`, from
 * gsettings-desktop-schemas): settings are read with one `gsettings list-recursively` and written
 * key by key with `gsettings set`. Field names are `SCHEMA KEY`; values are GVariant text exactly
 * as gsettings prints them, which `gsettings set` accepts back unchanged.
 */
import { PinholeError } from '../../shared/errors.js';
import { gvBool, gvInt, gvString, gvStringArray } from './gvariant.js';
import type { CommandRunner, ProxyFields, ProxySettings, ProxySnapshot, SystemProxyAdapter } from './types.js';

const ROOT = 'org.gnome.system.proxy';
const HTTP = `${ROOT}.http`;
const HTTPS = `${ROOT}.https`;
const SOCKS = `${ROOT}.socks`;

const field = (schema: string, key: string): string => `${schema} ${key}`;

export const GNOME_FIELDS = {
  mode: field(ROOT, 'mode'),
  autoconfigUrl: field(ROOT, 'autoconfig-url'),
  ignoreHosts: field(ROOT, 'ignore-hosts'),
  useSameProxy: field(ROOT, 'use-same-proxy'),
  httpHost: field(HTTP, 'host'),
  httpPort: field(HTTP, 'port'),
  httpsHost: field(HTTPS, 'host'),
  httpsPort: field(HTTPS, 'port'),
  socksHost: field(SOCKS, 'host'),
} as const;

const MANAGED: ReadonlySet<string> = new Set(Object.values(GNOME_FIELDS));

/** Parses `gsettings list-recursively org.gnome.system.proxy` output into the managed fields. */
export const parseGsettingsList = (text: string): ProxyFields => {
  const fields: ProxyFields = {};
  for (const line of text.split('\n')) {
    const match = /^(\S+) (\S+) (.*)$/.exec(line.trimEnd());
    if (!match) continue;
    const [, schema, key, value] = match as unknown as [string, string, string, string];
    const name = field(schema, key);
    if (MANAGED.has(name)) fields[name] = value;
  }
  return fields;
};

export const planGnome = (settings: ProxySettings): ProxyFields => {
  if (settings.mode === 'pac') {
    // The mode goes last: a half-applied change never points at a URL that is not set yet.
    return { [GNOME_FIELDS.autoconfigUrl]: gvString(settings.pacUrl), [GNOME_FIELDS.mode]: gvString('auto') };
  }
  return {
    [GNOME_FIELDS.httpHost]: gvString(settings.host),
    [GNOME_FIELDS.httpPort]: gvInt(settings.port),
    [GNOME_FIELDS.httpsHost]: gvString(settings.host),
    [GNOME_FIELDS.httpsPort]: gvInt(settings.port),
    // A SOCKS host would take every scheme without its own proxy past Pinhole.
    [GNOME_FIELDS.socksHost]: gvString(''),
    [GNOME_FIELDS.useSameProxy]: gvBool(true),
    [GNOME_FIELDS.ignoreHosts]: gvStringArray(settings.bypass),
    [GNOME_FIELDS.mode]: gvString('manual'),
  };
};

/** Writes the mode last, whatever order the fields come in. */
const writeOrder = (fields: ProxyFields): string[] =>
  Object.keys(fields).sort((a, b) => Number(a === GNOME_FIELDS.mode) - Number(b === GNOME_FIELDS.mode));

export const createGnomeAdapter = ({ runner, gsettings = 'gsettings' }: { runner: CommandRunner; gsettings?: string }): SystemProxyAdapter => {
  const read = async (): Promise<ProxySnapshot> => {
    const { stdout } = await runner(gsettings, ['list-recursively', ROOT]);
    const fields = parseGsettingsList(stdout);
    if (fields[GNOME_FIELDS.mode] === undefined) {
      throw new PinholeError('PINHOLE_SYSTEM_PROXY_FAILED', 'The GNOME proxy settings (org.gnome.system.proxy) could not be read.');
    }
    return { adapter: 'gnome', fields };
  };
  const restore = async (snapshot: ProxySnapshot): Promise<void> => {
    for (const name of writeOrder(snapshot.fields)) {
      const value = snapshot.fields[name];
      const [schema, key] = name.split(' ') as [string, string];
      // gsettings keys always have a value; `null` (never produced here) means "back to the default".
      await runner(gsettings, value === null || value === undefined ? ['reset', schema, key] : ['set', schema, key, value]);
    }
  };
  const adapter: SystemProxyAdapter = {
    name: 'gnome',
    snapshot: read,
    read,
    plan: (settings) => ({ adapter: 'gnome', fields: planGnome(settings) }),
    apply: async (settings) => restore(adapter.plan(settings, await read())),
    restore,
  };
  return adapter;
};
