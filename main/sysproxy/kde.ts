/**
 * KDE Plasma: the proxy lives in `kioslaverc`, group `[Proxy Settings]`, read with kreadconfig
 * and written with kwriteconfig (5 or 6, matching the Plasma version), after which running KIO
 * programs are told to re-read it with the `reparseSlaveConfiguration` D-Bus signal.
 * kreadconfig prints an empty line for a missing key, so an empty value is recorded as absent
 * (`null`) and restored by deleting the key.
 */
import { hostPort } from './bypass.js';
import type { CommandRunner, ProxyFields, ProxySettings, ProxySnapshot, SystemProxyAdapter } from './types.js';

const GROUP = 'Proxy Settings';

export const KDE_KEYS = ['ProxyType', 'httpProxy', 'httpsProxy', 'Proxy Config Script', 'NoProxyFor'] as const;

/** kioslaverc ProxyType values. */
export const KDE_PROXY_TYPE = { none: '0', manual: '1', pac: '2', wpad: '3', environment: '4' } as const;

export const REPARSE_SIGNAL = [
  '--type=signal',
  '/KIO/Scheduler',
  'org.kde.KIO.Scheduler.reparseSlaveConfiguration',
  "string:''",
] as const;

/** KDE writes a proxy as `http://host port` (a space before the port). */
export const kdeProxyUrl = (host: string, port: number): string => {
  const hp = hostPort(host, port);
  const colon = hp.lastIndexOf(':');
  return `http://${hp.slice(0, colon)} ${hp.slice(colon + 1)}`;
};

export const planKde = (settings: ProxySettings): ProxyFields =>
  settings.mode === 'pac'
    ? { 'Proxy Config Script': settings.pacUrl, ProxyType: KDE_PROXY_TYPE.pac }
    : {
        httpProxy: kdeProxyUrl(settings.host, settings.port),
        httpsProxy: kdeProxyUrl(settings.host, settings.port),
        NoProxyFor: settings.bypass.join(','),
        ProxyType: KDE_PROXY_TYPE.manual,
      };

export const createKdeAdapter = ({ runner, version = 5 }: { runner: CommandRunner; version?: 5 | 6 }): SystemProxyAdapter => {
  const name = `kde${version}`;
  const kread = `kreadconfig${version}`;
  const kwrite = `kwriteconfig${version}`;
  const base = ['--file', 'kioslaverc', '--group', GROUP, '--key'];

  const read = async (): Promise<ProxySnapshot> => {
    const fields: ProxyFields = {};
    for (const key of KDE_KEYS) {
      const { stdout } = await runner(kread, [...base, key]);
      const value = stdout.replace(/\r?\n$/, '');
      fields[key] = value === '' ? null : value;
    }
    return { adapter: name, fields };
  };
  const restore = async (snapshot: ProxySnapshot): Promise<void> => {
    const keys = Object.keys(snapshot.fields).sort((a, b) => Number(a === 'ProxyType') - Number(b === 'ProxyType'));
    if (keys.length === 0) return;
    for (const key of keys) {
      const value = snapshot.fields[key];
      await runner(kwrite, value === null || value === undefined ? [...base, key, '--delete'] : [...base, key, value]);
    }
    await runner('dbus-send', [...REPARSE_SIGNAL]);
  };
  const adapter: SystemProxyAdapter = {
    name,
    snapshot: read,
    read,
    plan: (settings) => ({ adapter: name, fields: planKde(settings) }),
    apply: async (settings) => restore(adapter.plan(settings, await read())),
    restore,
  };
  return adapter;
};
