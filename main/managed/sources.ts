/**
 * Where each OS keeps the administrator's managed configuration, read with the OS's own tools:
 * Linux a YAML file (/etc/pinhole/managed.yaml), macOS the managed preferences plist an MDM
 * profile installs (converted by `plutil -convert json`, so no plist parser ships with Pinhole and
 * binary plists read the same as XML ones), Windows the policy key HKLM\SOFTWARE\Policies\Pinhole
 * (`reg query /s`, parsed in registry.ts). PINHOLE_MANAGED_FILE names a YAML file instead on any OS
 * (tests, and machines configured without MDM). Each source answers the raw value (undefined when
 * the OS holds none) or a sentence naming the place when it cannot be read.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { CommandRunner } from '../sysproxy/types.js';
import { registryToManaged } from './registry.js';

export const LINUX_MANAGED_FILE = '/etc/pinhole/managed.yaml';
export const MACOS_MANAGED_PLIST = '/Library/Managed Preferences/com.pinhole.client.plist';
export const WINDOWS_MANAGED_KEY = 'HKLM\\SOFTWARE\\Policies\\Pinhole';

export type SourceRead = { kind: 'none' } | { kind: 'value'; raw: unknown } | { kind: 'unreadable'; field: string; sentence: string };

export interface ManagedSource {
  /** The file or key, as sentences name it. */
  readonly where: string;
  /** A file's path for fs.watchFile; undefined: the source is polled. */
  readonly watchFile?: string;
  read(): Promise<SourceRead>;
}

const missing = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

export const yamlSource = (file: string): ManagedSource => ({
  where: file,
  watchFile: file,
  read: async () => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (missing(err)) return { kind: 'none' };
      return { kind: 'unreadable', field: 'document', sentence: `The managed configuration ${file} could not be read (${(err as Error).message}); the last good configuration stays in use.` };
    }
    try {
      return { kind: 'value', raw: parseYaml(text) as unknown };
    } catch (err) {
      const line = err instanceof YAMLParseError ? err.linePos?.[0]?.line : undefined;
      return { kind: 'unreadable', field: 'document', sentence: `The managed configuration ${file} is not valid YAML${line === undefined ? '' : ` (line ${line})`}; the last good configuration stays in use.` };
    }
  },
});

export const plistSource = (file: string, run: CommandRunner): ManagedSource => ({
  where: file,
  watchFile: file,
  read: async () => {
    try {
      await readFile(file);
    } catch (err) {
      if (missing(err)) return { kind: 'none' };
    }
    let json: string;
    try {
      json = (await run('plutil', ['-convert', 'json', '-o', '-', file])).stdout;
    } catch {
      return { kind: 'unreadable', field: 'document', sentence: `The managed configuration ${file} is not a property list plutil can read; the last good configuration stays in use.` };
    }
    try {
      return { kind: 'value', raw: JSON.parse(json) as unknown };
    } catch {
      return { kind: 'unreadable', field: 'document', sentence: `The managed configuration ${file} did not convert to JSON; the last good configuration stays in use.` };
    }
  },
});

export const registrySource = (key: string, run: CommandRunner): ManagedSource => ({
  where: key,
  read: async () => {
    let out: string;
    try {
      out = (await run('reg', ['query', key, '/s'])).stdout;
    } catch {
      // reg exits 1 when the key does not exist: no policy is set.
      return { kind: 'none' };
    }
    return { kind: 'value', raw: registryToManaged(out) };
  },
});

/** The source for this OS (PINHOLE_MANAGED_FILE first). */
export const managedSourceFor = (platform: NodeJS.Platform, env: NodeJS.ProcessEnv, run: CommandRunner): ManagedSource => {
  if (env.PINHOLE_MANAGED_FILE) return yamlSource(env.PINHOLE_MANAGED_FILE);
  if (platform === 'darwin') return plistSource(MACOS_MANAGED_PLIST, run);
  if (platform === 'win32') return registrySource(WINDOWS_MANAGED_KEY, run);
  return yamlSource(LINUX_MANAGED_FILE);
};
