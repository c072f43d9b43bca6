/**
 * Windows: the per-user Internet Settings in the registry (ProxyEnable, ProxyServer,
 * ProxyOverride, AutoConfigURL), read with `reg query` and written with `reg add` / `reg delete`,
 * then WinINet is told (INTERNET_OPTION_SETTINGS_CHANGED, INTERNET_OPTION_REFRESH) so running
 * applications pick the change up. Field values are `TYPE DATA` as `reg query` prints them;
 * `null` is a value that does not exist.
 */
import type { CommandRunner, ProxyFields, ProxySettings, ProxySnapshot, SystemProxyAdapter } from './types.js';
import { hostPort } from './bypass.js';

export const INTERNET_SETTINGS_KEY = 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings';
export const WINDOWS_VALUES = ['ProxyEnable', 'ProxyServer', 'ProxyOverride', 'AutoConfigURL'] as const;

/** PowerShell that calls InternetSetOption(SETTINGS_CHANGED = 39) then (REFRESH = 37). */
export const WININET_NOTIFY_SCRIPT = [
  "$signature = '[DllImport(\"wininet.dll\", SetLastError = true)] public static extern bool InternetSetOption(IntPtr hInternet, int dwOption, IntPtr lpBuffer, int dwBufferLength);'",
  '$wininet = Add-Type -MemberDefinition $signature -Name WinInet -Namespace Pinhole -PassThru',
  '[void]$wininet::InternetSetOption([IntPtr]::Zero, 39, [IntPtr]::Zero, 0)',
  '[void]$wininet::InternetSetOption([IntPtr]::Zero, 37, [IntPtr]::Zero, 0)',
].join('; ');

export const POWERSHELL_ARGS = ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', WININET_NOTIFY_SCRIPT] as const;

/** Parses `reg query KEY` (values only; subkeys and the key's own line are skipped). */
export const parseRegQuery = (text: string): ProxyFields => {
  const fields: ProxyFields = {};
  for (const name of WINDOWS_VALUES) fields[name] = null;
  for (const line of text.split(/\r?\n/)) {
    const match = /^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/.exec(line.trimEnd());
    if (!match) continue;
    const [, name, type, data] = match as unknown as [string, string, string, string | undefined];
    if ((WINDOWS_VALUES as readonly string[]).includes(name)) fields[name] = `${type} ${data ?? ''}`;
  }
  return fields;
};

/**
 * WinINet's bypass syntax has wildcards, not CIDR: the local networks become `10.*`, `172.16.*`...
 * and `<local>` (host names without a dot) is always added.
 */
export const windowsBypass = (bypass: readonly string[]): string => {
  const out: string[] = [];
  const add = (entry: string): void => {
    if (!out.includes(entry)) out.push(entry);
  };
  for (const entry of bypass) {
    const cidr = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(8|12|16|24)$/.exec(entry);
    if (cidr) {
      const [a, b, c] = [Number(cidr[1]), Number(cidr[2]), Number(cidr[3])];
      if (cidr[5] === '8') add(`${a}.*`);
      else if (cidr[5] === '16') add(`${a}.${b}.*`);
      else if (cidr[5] === '24') add(`${a}.${b}.${c}.*`);
      else for (let i = b & 0xf0; i <= (b | 0x0f); i += 1) add(`${a}.${i}.*`);
    } else if (entry === '::1') add('[::1]');
    else add(entry);
  }
  add('<local>');
  return out.join(';');
};

export const planWindows = (settings: ProxySettings): ProxyFields =>
  settings.mode === 'pac'
    ? { AutoConfigURL: `REG_SZ ${settings.pacUrl}`, ProxyEnable: 'REG_DWORD 0x0' }
    : {
        ProxyServer: `REG_SZ ${hostPort(settings.host, settings.port)}`,
        ProxyOverride: `REG_SZ ${windowsBypass(settings.bypass)}`,
        AutoConfigURL: null,
        ProxyEnable: 'REG_DWORD 0x1',
      };

/** The `reg` arguments that write one value (DWORDs in decimal, which `reg add` always accepts). */
export const regCommand = (name: string, value: string | null): string[] => {
  if (value === null) return ['delete', INTERNET_SETTINGS_KEY, '/v', name, '/f'];
  const space = value.indexOf(' ');
  const type = space < 0 ? value : value.slice(0, space);
  let data = space < 0 ? '' : value.slice(space + 1);
  if (type === 'REG_DWORD' && /^0x[0-9a-f]+$/i.test(data)) data = String(Number.parseInt(data.slice(2), 16));
  return ['add', INTERNET_SETTINGS_KEY, '/v', name, '/t', type, '/d', data, '/f'];
};

export const createWindowsAdapter = ({ runner, reg = 'reg.exe', powershell = 'powershell.exe' }: { runner: CommandRunner; reg?: string; powershell?: string }): SystemProxyAdapter => {
  const read = async (): Promise<ProxySnapshot> => ({
    adapter: 'windows',
    fields: parseRegQuery((await runner(reg, ['query', INTERNET_SETTINGS_KEY])).stdout),
  });
  const restore = async (snapshot: ProxySnapshot): Promise<void> => {
    const names = Object.keys(snapshot.fields).sort((a, b) => Number(a === 'ProxyEnable') - Number(b === 'ProxyEnable'));
    if (names.length === 0) return;
    for (const name of names) {
      const value = snapshot.fields[name] ?? null;
      if (value === null) {
        // Deleting a value that is not there fails; absent is already what we want.
        await runner(reg, regCommand(name, null)).catch(() => undefined);
      } else {
        await runner(reg, regCommand(name, value));
      }
    }
    await runner(powershell, [...POWERSHELL_ARGS]);
  };
  const adapter: SystemProxyAdapter = {
    name: 'windows',
    snapshot: read,
    read,
    plan: (settings) => ({ adapter: 'windows', fields: planWindows(settings) }),
    apply: async (settings) => restore(adapter.plan(settings, await read())),
    restore,
  };
  return adapter;
};
