/**
 * The diagnostics bundle (`pinhole doctor --bundle FILE`, Settings > Export diagnostics): one
 * .tar.gz with the path check's result, versions, the OS and its proxy settings, the recent log,
 * the profiles and the settings, every file passed through the Redactor with every secret this
 * machine knows. What goes in is gathered by the caller (CLI or EngineHost); this module only
 * lays it out and cleans it.
 */
import { arch, platform, release, type as osType } from 'node:os';
import type { DoctorReport } from '../../shared/doctor.js';
import { reportText } from './report-text.js';
import { Redactor } from './redact.js';
import { tarGz, type ArchiveFile } from './tar-gz.js';

export interface BundleSources {
  report?: DoctorReport;
  /** Why there is no report (no profile, the check could not start). */
  reportMissing?: string;
  version: string;
  /** Recent log records, oldest first (JSON objects as the log ring holds them). */
  logs: readonly unknown[];
  profiles: unknown;
  settings: unknown;
  /** The OS proxy as read now, and the adapter's raw fields. */
  systemProxy: unknown;
  /** Environment variables about proxies (their passwords are removed like every other secret). */
  env: Readonly<Record<string, string | undefined>>;
  /** Every secret known on this machine: profile passwords, a link's secret, proxy passwords, passphrases. */
  secrets: readonly string[];
  now?: () => number;
}

const PROXY_ENV = /^(https?|all|no|ftp)_proxy$/i;

const timestamp = (time: number): string => new Date(time).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');

/** The archive's file name for a bundle made at `time`. */
export const bundleFileName = (time: number): string => `pinhole-diagnostics-${timestamp(time)}.tar.gz`;

export const buildBundle = (sources: BundleSources): Buffer => {
  const time = sources.now?.() ?? Date.now();
  const redactor = new Redactor(sources.secrets);
  const json = (value: unknown): string => `${JSON.stringify(redactor.value(value), null, 2)}\n`;
  const folder = `pinhole-diagnostics-${timestamp(time)}`;
  const proxyEnv = Object.fromEntries(Object.entries(sources.env).filter(([key, value]) => PROXY_ENV.test(key) && value !== undefined));
  const files: ArchiveFile[] = [
    {
      name: 'README.txt',
      content: [
        'Pinhole diagnostics bundle. Every password, token, link secret and credential was removed before it was written.',
        'doctor.txt / doctor.json  the path check (each hop and the firewall rule)',
        'versions.json             Pinhole, Node, Electron and the OS',
        'system.json               the OS proxy settings and the proxy environment variables',
        'logs.jsonl                the recent log, oldest first',
        'profiles.json             the stored profiles (references to secrets only)',
        'settings.json             the settings',
        '',
      ].join('\n'),
    },
    { name: 'doctor.json', content: json(sources.report ?? { missing: sources.reportMissing ?? 'The path check did not run.' }) },
    { name: 'doctor.txt', content: redactor.text(sources.report ? reportText(sources.report) : `${sources.reportMissing ?? 'The path check did not run.'}\n`) },
    {
      name: 'versions.json',
      content: json({ pinhole: sources.version, node: process.versions.node, electron: process.versions['electron'] ?? null, os: { type: osType(), platform: platform(), release: release(), arch: arch() } }),
    },
    { name: 'system.json', content: json({ systemProxy: sources.systemProxy, proxyEnvironment: proxyEnv }) },
    { name: 'logs.jsonl', content: sources.logs.map((line) => JSON.stringify(redactor.value(line))).join('\n') + (sources.logs.length > 0 ? '\n' : '') },
    { name: 'profiles.json', content: json(sources.profiles) },
    { name: 'settings.json', content: json(sources.settings) },
  ];
  // A last pass over every file's text, whatever path a secret took to get there.
  return tarGz(
    files.map((f) => ({ name: `${folder}/${f.name}`, content: redactor.text(f.content.toString()) })),
    time,
  );
};
