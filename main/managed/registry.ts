/**
 * `reg query HKLM\SOFTWARE\Policies\Pinhole /s` output as the managed configuration's shape
 * (shared/managed.ts): values of the key itself are settings (ConnectOnStart -> connectOnStart),
 * each subkey `Profiles\NAME` is one profile named NAME, and the subkey `Routing` holds the routing
 * lists. REG_DWORD becomes a number (0/1 read as booleans by the schema), REG_MULTI_SZ a list.
 * Pure: tested on recorded output.
 */
type Values = Record<string, unknown>;

const VALUE_RE = /^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/;

const camel = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);

const valueOf = (type: string, data: string): unknown => {
  if (type === 'REG_DWORD' || type === 'REG_QWORD') return Number.parseInt(data, 16);
  if (type === 'REG_MULTI_SZ') return data === '' ? [] : data.split('\\0').filter((s) => s !== '');
  return data;
};

export const registryToManaged = (output: string): Values => {
  const keys = new Map<string, Values>();
  let root: string | undefined;
  let current: Values | undefined;
  for (const line of output.split(/\r?\n/)) {
    if (/^HKEY_/i.test(line)) {
      const key = line.trim();
      root ??= key;
      current = {};
      keys.set(key, current);
      continue;
    }
    const match = VALUE_RE.exec(line);
    if (match && current) current[camel(match[1]!)] = valueOf(match[2]!, match[3] ?? '');
  }
  if (root === undefined) return {};
  const result: Values = { ...keys.get(root) };
  const profiles: Values[] = [];
  for (const [key, values] of keys) {
    if (key === root || !key.toLowerCase().startsWith(`${root.toLowerCase()}\\`)) continue;
    const [first, ...rest] = key.slice(root.length + 1).split('\\');
    if (first?.toLowerCase() === 'profiles' && rest.length === 1) profiles.push({ name: rest[0], ...values });
    else if (first?.toLowerCase() === 'routing' && rest.length === 0) result.routing = values;
    else if (first?.toLowerCase() === 'profiles' && rest.length === 0) continue;
    // Anything else is named by the schema as an unknown setting.
    else result[camel(key.slice(root.length + 1).replace(/\\/g, '.'))] = values;
  }
  if (profiles.length > 0) result.profiles = profiles;
  return result;
};
