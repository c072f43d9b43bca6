/**
 * The administrator's managed configuration as the app and the CLI hold it: read at start and
 * again when it changes (a watched file, or a polled registry key), validated against one schema
 * (shared/managed.ts). A malformed read is reported once in one sentence naming the place and the
 * field, and the last good configuration stays in use.
 */
import { EventEmitter } from 'node:events';
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import { parseManaged, type ManagedConfig, type ManagedView } from '../../shared/managed.js';
import { execFileRunner } from '../sysproxy/command-runner.js';
import type { CommandRunner } from '../sysproxy/types.js';
import { managedSourceFor, type ManagedSource } from './sources.js';

/** How often a source without a file to watch (the Windows registry) is read again. */
const POLL_MS = 30_000;

export interface ManagedConfigurationOptions {
  logger?: Logger;
  /** fs.watchFile's interval for a file source (default 1000 ms). */
  watchIntervalMs?: number;
}

export class ManagedConfiguration {
  private good: ManagedConfig | undefined;
  private problem: string | undefined;
  private readonly events = new EventEmitter();
  private stopWatching: (() => void) | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    readonly source: ManagedSource,
    private readonly options: ManagedConfigurationOptions = {},
  ) {}

  /** This machine's source (PINHOLE_MANAGED_FILE, else the OS's place), read once. */
  static async forThisMachine(options: ManagedConfigurationOptions & { env?: NodeJS.ProcessEnv; platform?: NodeJS.Platform; run?: CommandRunner } = {}): Promise<ManagedConfiguration> {
    const managed = new ManagedConfiguration(managedSourceFor(options.platform ?? process.platform, options.env ?? process.env, options.run ?? execFileRunner), options);
    await managed.load();
    return managed;
  }

  /** The last good configuration (undefined: the administrator set none). */
  get current(): ManagedConfig | undefined {
    return this.good;
  }

  /** The sentence about the last malformed read, while it is the latest read. */
  get lastProblem(): string | undefined {
    return this.problem;
  }

  view(): ManagedView | undefined {
    const c = this.good;
    if (c === undefined && this.problem === undefined) return undefined;
    return {
      source: this.source.where,
      lockConnectSwitch: c?.lockConnectSwitch === true,
      lockProfiles: c?.lockProfiles === true,
      connectOnStart: c?.connectOnStart === true,
      forbidDirect: c?.forbidDirect === true,
      ...(c?.supportUrl ? { supportUrl: c.supportUrl } : {}),
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  /** Called after each read that changed the configuration or its problem. */
  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** Reads the source now (one read at a time). */
  load(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    const before = JSON.stringify([this.good, this.problem]);
    const read = await this.source.read();
    const { logger } = this.options;
    if (read.kind === 'none') {
      this.good = undefined;
      this.problem = undefined;
    } else {
      const parsed = read.kind === 'value' ? parseManaged(read.raw, this.source.where) : { ok: false as const, field: read.field, sentence: read.sentence };
      if (parsed.ok) {
        this.good = parsed.config;
        this.problem = undefined;
      } else if (this.problem !== parsed.sentence) {
        this.problem = parsed.sentence;
        logger?.error({ code: 'PINHOLE_MANAGED_INVALID', file: this.source.where, field: parsed.field }, parsed.sentence);
      }
    }
    if (JSON.stringify([this.good, this.problem]) === before) return;
    if (this.problem === undefined) logger?.info({ file: this.source.where, managed: this.good !== undefined, profiles: this.good?.profiles?.length ?? 0 }, 'The managed configuration was read.');
    this.events.emit('change');
  }

  /** Re-reads when the source changes, until stop(). */
  watch(): void {
    if (this.stopWatching) return;
    const file = this.source.watchFile;
    const reread = (): void => void this.load().catch((err: unknown) => this.options.logger?.warn({ err }, 'The managed configuration could not be read again.'));
    if (file !== undefined) {
      const listener = (): void => reread();
      watchFile(file, { interval: this.options.watchIntervalMs ?? 1000 }, listener);
      this.stopWatching = () => unwatchFile(file, listener);
    } else {
      const timer = setInterval(reread, POLL_MS);
      timer.unref();
      this.stopWatching = () => clearInterval(timer);
    }
  }

  stop(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
  }
}

/** A one-shot command's read: the configuration, with a malformed file's sentence on stderr. */
export const loadManagedForCommand = async (program: string, stderr: (text: string) => void = (t) => void process.stderr.write(t)): Promise<ManagedConfiguration> => {
  const managed = await ManagedConfiguration.forThisMachine();
  if (managed.lastProblem !== undefined) stderr(`${program}: ${managed.lastProblem}\n`);
  return managed;
};
