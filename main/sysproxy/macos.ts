/**
 * macOS keeps proxy settings per network service, so every enabled service (Wi-Fi, Ethernet, a
 * dock's adapter...) gets the same settings through `networksetup`. Field names are
 * `JSON [service, setting]` with setting one of web, secureweb, autoproxy, bypass; values are
 * small JSON documents. A service that appears later (a new primary service) simply shows up as
 * new fields in a later snapshot; the session's `refresh()` applies to it and remembers it.
 */
import type { CommandRunner, ProxyFields, ProxySettings, ProxySnapshot, SystemProxyAdapter } from './types.js';

const NETWORKSETUP = '/usr/sbin/networksetup';

export type MacSetting = 'web' | 'secureweb' | 'autoproxy' | 'bypass';

interface WebProxy {
  enabled: boolean;
  server: string;
  port: number;
}
interface AutoProxy {
  enabled: boolean;
  url: string;
}

export const macField = (service: string, setting: MacSetting): string => JSON.stringify([service, setting]);

const parseField = (name: string): [string, MacSetting] => JSON.parse(name) as [string, MacSetting];

/** `-listallnetworkservices`: one per line after the legend; a leading `*` marks a disabled one. */
export const parseServices = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !line.startsWith('An asterisk') && !line.startsWith('*'));

const lineValue = (text: string, label: string): string | undefined => {
  const match = new RegExp(`^${label}: ?(.*)$`, 'm').exec(text);
  return match?.[1]?.trimEnd();
};

/** `-getwebproxy` / `-getsecurewebproxy`: Enabled / Server / Port lines. */
export const parseWebProxy = (text: string): WebProxy => ({
  enabled: lineValue(text, 'Enabled') === 'Yes',
  server: lineValue(text, 'Server') ?? '',
  port: Number(lineValue(text, 'Port') ?? 0) || 0,
});

/** `-getautoproxyurl`: `URL: (null)` when none is set. */
export const parseAutoProxy = (text: string): AutoProxy => {
  const url = lineValue(text, 'URL') ?? '';
  return { enabled: lineValue(text, 'Enabled') === 'Yes', url: url === '(null)' ? '' : url };
};

/** `-getproxybypassdomains`: one domain per line, or a sentence saying there are none. */
export const parseBypass = (text: string): string[] =>
  /There aren't any bypass domains/.test(text) ? [] : text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');

export const planMacos = (settings: ProxySettings, current: ProxySnapshot): ProxyFields => {
  const services = [...new Set(Object.keys(current.fields).map((name) => parseField(name)[0]))];
  const fields: ProxyFields = {};
  for (const service of services) {
    const before = (setting: MacSetting): unknown => JSON.parse(current.fields[macField(service, setting)] ?? 'null');
    if (settings.mode === 'manual') {
      const web: WebProxy = { enabled: true, server: settings.host, port: settings.port };
      fields[macField(service, 'bypass')] = JSON.stringify(settings.bypass);
      fields[macField(service, 'web')] = JSON.stringify(web);
      fields[macField(service, 'secureweb')] = JSON.stringify(web);
      const auto = before('autoproxy') as AutoProxy | null;
      if (auto?.enabled) fields[macField(service, 'autoproxy')] = JSON.stringify({ enabled: false, url: auto.url });
    } else {
      fields[macField(service, 'autoproxy')] = JSON.stringify({ enabled: true, url: settings.pacUrl });
      for (const setting of ['web', 'secureweb'] as const) {
        const web = before(setting) as WebProxy | null;
        if (web?.enabled) fields[macField(service, setting)] = JSON.stringify({ ...web, enabled: false });
      }
    }
  }
  return fields;
};

/** The networksetup commands that write one field. */
export const macCommands = (name: string, value: string | null): string[][] => {
  const [service, setting] = parseField(name);
  if (value === null) return [];
  if (setting === 'bypass') {
    const domains = JSON.parse(value) as string[];
    return [['-setproxybypassdomains', service, ...(domains.length === 0 ? ['Empty'] : domains)]];
  }
  if (setting === 'autoproxy') {
    const auto = JSON.parse(value) as AutoProxy;
    const commands: string[][] = [];
    if (auto.url !== '') commands.push(['-setautoproxyurl', service, auto.url]);
    if (!auto.enabled || auto.url === '') commands.push(['-setautoproxystate', service, auto.enabled ? 'on' : 'off']);
    return commands;
  }
  const web = JSON.parse(value) as WebProxy;
  const verb = setting === 'web' ? 'webproxy' : 'securewebproxy';
  const commands: string[][] = [];
  if (web.server !== '') commands.push([`-set${verb}`, service, web.server, String(web.port)]);
  if (!web.enabled || web.server === '') commands.push([`-set${verb}state`, service, web.enabled ? 'on' : 'off']);
  return commands;
};

const ORDER: Record<MacSetting, number> = { bypass: 0, web: 1, secureweb: 2, autoproxy: 3 };

export const createMacosAdapter = ({ runner, networksetup = NETWORKSETUP }: { runner: CommandRunner; networksetup?: string }): SystemProxyAdapter => {
  const get = async (flag: string, service: string): Promise<string> => (await runner(networksetup, [flag, service])).stdout;
  const read = async (): Promise<ProxySnapshot> => {
    const services = parseServices((await runner(networksetup, ['-listallnetworkservices'])).stdout);
    const fields: ProxyFields = {};
    for (const service of services) {
      fields[macField(service, 'web')] = JSON.stringify(parseWebProxy(await get('-getwebproxy', service)));
      fields[macField(service, 'secureweb')] = JSON.stringify(parseWebProxy(await get('-getsecurewebproxy', service)));
      fields[macField(service, 'autoproxy')] = JSON.stringify(parseAutoProxy(await get('-getautoproxyurl', service)));
      fields[macField(service, 'bypass')] = JSON.stringify(parseBypass(await get('-getproxybypassdomains', service)));
    }
    return { adapter: 'macos', fields };
  };
  const restore = async (snapshot: ProxySnapshot): Promise<void> => {
    const serviceOrder = new Map<string, number>();
    for (const name of Object.keys(snapshot.fields)) {
      const service = parseField(name)[0];
      if (!serviceOrder.has(service)) serviceOrder.set(service, serviceOrder.size);
    }
    const rank = (name: string): number => {
      const [service, setting] = parseField(name);
      return (serviceOrder.get(service) ?? 0) * 10 + ORDER[setting];
    };
    const names = Object.keys(snapshot.fields).sort((a, b) => rank(a) - rank(b));
    for (const name of names) {
      for (const args of macCommands(name, snapshot.fields[name] ?? null)) await runner(networksetup, args);
    }
  };
  const adapter: SystemProxyAdapter = {
    name: 'macos',
    snapshot: read,
    read,
    plan: (settings, current) => ({ adapter: 'macos', fields: planMacos(settings, current) }),
    apply: async (settings) => restore(adapter.plan(settings, await read())),
    restore,
  };
  return adapter;
};
