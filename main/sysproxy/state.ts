/**
 * The crash-safety record: what the system proxy looked like before Pinhole touched it, what
 * Pinhole set, and who set it. It is written atomically BEFORE anything changes, so whichever
 * way the process dies, the watchdog or the next start can put things back. Restoring only puts
 * back a field that still holds exactly what Pinhole set: a change made meanwhile by the user or
 * another program is left alone.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { homedir, uptime } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../shared/log.js';
import type { ProxyFields, SystemProxyAdapter } from './types.js';

const FieldsSchema = z.record(z.string(), z.string().nullable());

export const ProxySettingsSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('manual'), host: z.string(), port: z.number().int(), bypass: z.array(z.string()) }),
  z.object({ mode: z.literal('pac'), pacUrl: z.string() }),
]);

export const SystemProxyStateSchema = z.object({
  version: z.literal(1),
  adapter: z.string(),
  /** Everything the adapter manages, as it was before Pinhole applied (the full snapshot). */
  snapshot: FieldsSchema,
  /** Exactly the fields Pinhole wrote, with the values it wrote. */
  applied: FieldsSchema,
  settings: ProxySettingsSchema,
  ownerPid: z.number().int(),
  sessionId: z.string(),
  /** ISO time the state was first written. */
  time: z.string(),
});

export type SystemProxyState = z.infer<typeof SystemProxyStateSchema>;

export const STATE_FILE_NAME = 'sysproxy-state.json';

type Env = Record<string, string | undefined>;

/** `$PINHOLE_CONFIG_DIR`, else `${XDG_CONFIG_HOME:-~/.config}/pinhole`. */
export const defaultStateDir = (env: Env = process.env): string =>
  env.PINHOLE_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'pinhole');

export const stateFilePath = (stateDir?: string, env: Env = process.env): string => join(stateDir ?? defaultStateDir(env), STATE_FILE_NAME);

export const newSessionId = (): string => randomBytes(12).toString('hex');

/** Write temp file, fsync it, rename over the old one, fsync the folder. */
export const writeState = async (file: string, state: SystemProxyState): Promise<void> => {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${STATE_FILE_NAME}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  try {
    const folder = await open(dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    // Some platforms (Windows) cannot open a folder for fsync; the rename is still atomic there.
  }
};

/** The state in `file`, or undefined when there is none (a damaged file counts as none and says so). */
export const readState = async (file: string, logger?: Logger): Promise<SystemProxyState | undefined> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return SystemProxyStateSchema.parse(JSON.parse(text));
  } catch (error) {
    logger?.warn({ file, err: error }, 'The saved system proxy state is damaged and was ignored.');
    return undefined;
  }
};

/** Removes the state file only while it still belongs to `sessionId` (a newer session's is kept). */
export const removeStateIf = async (file: string, sessionId: string): Promise<boolean> => {
  const current = await readState(file).catch(() => undefined);
  if (!current || current.sessionId !== sessionId) return false;
  await rm(file, { force: true });
  return true;
};

/** Is the process alive? A zombie (dead, not yet reaped) counts as dead. */
export const isPidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return false;
    } catch {
      return false;
    }
  }
  return true;
};

/** Is the process that wrote this state still running? After a reboot a reused pid does not count. */
export const isOwnerAlive = (state: SystemProxyState, now = Date.now(), uptimeSeconds = uptime()): boolean => {
  const bootedAt = now - uptimeSeconds * 1000;
  if (Date.parse(state.time) < bootedAt) return false;
  return isPidAlive(state.ownerPid);
};

export interface RestorePlan {
  /** Field -> the value to put back. */
  restore: ProxyFields;
  /** Fields left alone because they no longer hold what Pinhole set. */
  changedOutside: string[];
  /** Fields Pinhole set that can no longer be read (a network service that went away). */
  gone: string[];
}

/** Pure: compares what is there now with what Pinhole set and decides what to put back. */
export const planRestore = (state: Pick<SystemProxyState, 'snapshot' | 'applied'>, current: ProxyFields): RestorePlan => {
  const plan: RestorePlan = { restore: {}, changedOutside: [], gone: [] };
  for (const [name, ours] of Object.entries(state.applied)) {
    if (!(name in current)) {
      plan.gone.push(name);
      continue;
    }
    if (current[name] !== ours) {
      plan.changedOutside.push(name);
      continue;
    }
    const before = state.snapshot[name];
    if (before !== undefined && before !== ours) plan.restore[name] = before;
  }
  return plan;
};

/** The fields that no longer hold what Pinhole set (empty when everything is still ours). */
export const changedFields = (applied: ProxyFields, current: ProxyFields): string[] =>
  Object.entries(applied)
    .filter(([name, ours]) => name in current && current[name] !== ours)
    .map(([name]) => name);

/** Reads the system now and puts back every field that still holds what Pinhole set. */
export const restoreFromState = async (adapter: SystemProxyAdapter, state: SystemProxyState, logger: Logger): Promise<RestorePlan> => {
  const current = await adapter.read();
  const plan = planRestore(state, current.fields);
  await adapter.restore({ adapter: adapter.name, fields: plan.restore });
  if (plan.changedOutside.length > 0) {
    logger.info({ fields: plan.changedOutside }, 'Some proxy settings were changed after Pinhole set them and were left as they are.');
  }
  if (plan.gone.length > 0) logger.info({ fields: plan.gone }, 'Some proxy settings Pinhole set no longer exist and could not be put back.');
  logger.info({ adapter: adapter.name, sessionId: state.sessionId, restored: Object.keys(plan.restore).length }, 'The system proxy was put back as it was before Pinhole.');
  return plan;
};
