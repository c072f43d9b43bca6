/**
 * The OS proxy as it is set now, for the system-proxy hop and the bundle: the desktop's settings
 * through the same adapter Pinhole sets them with, or, on a machine without a recognised desktop,
 * the proxy environment variables.
 */
import { detectAdapter } from '../sysproxy/detect.js';
import type { ProxyFields } from '../sysproxy/types.js';
import { osProxyFrom, osProxyFromEnv, type OsProxy } from '../upstream/os-proxy.js';

export interface SystemProxyReading {
  proxy: OsProxy;
  /** Where it was read: the adapter's name, or the environment. */
  source: string;
  /** The adapter's raw fields (for the bundle). */
  fields?: ProxyFields;
}

export const readSystemProxy = async (env: NodeJS.ProcessEnv = process.env): Promise<SystemProxyReading> => {
  let adapter;
  try {
    adapter = detectAdapter(env);
  } catch {
    return { proxy: osProxyFromEnv(env), source: 'the environment (https_proxy & co.)' };
  }
  const { fields } = await adapter.read();
  return { proxy: osProxyFrom(adapter.name, fields), source: adapter.name, fields };
};
