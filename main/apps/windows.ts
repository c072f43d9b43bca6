/**
 * Windows: the TCP table's owning process for the client's end of the connection
 * (`Get-NetTCPConnection -LocalPort CLIENT -RemotePort PROXY`), then `Get-Process` for its path.
 * Commands are argument arrays; only validated integers are placed in the script text.
 */
import type { Socket } from 'node:net';
import type { CommandRunner } from '../sysproxy/types.js';
import { displayName, endsOf, type AppIdentity, type AppLookup, type ConnectionEnds } from './types.js';

const POWERSHELL = ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command'];

const port = (n: number): number => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`not a port: ${n}`);
  return n;
};

export const owningProcessScript = (ends: ConnectionEnds): string =>
  `Get-NetTCPConnection -LocalPort ${port(ends.clientPort)} -RemotePort ${port(ends.proxyPort)} -ErrorAction SilentlyContinue | Select-Object -ExpandProperty OwningProcess`;

export const processScript = (pid: number): string => {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`not a pid: ${pid}`);
  return `Get-Process -Id ${pid} -ErrorAction SilentlyContinue | Select-Object Id,ProcessName,Path | ConvertTo-Json -Compress`;
};

/** OwningProcess values, one per line (or a "OwningProcess / ----- / 1234" table); the first non-zero pid. */
export const parseOwningProcess = (text: string): number | undefined => {
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (/^\d+$/.test(t) && Number(t) > 0) return Number(t);
  }
  return undefined;
};

/** `ConvertTo-Json` of Id, ProcessName, Path (an object, or an array when several matched). */
export const parseProcessJson = (text: string): AppIdentity | undefined => {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  const first = (Array.isArray(value) ? value[0] : value) as { Id?: unknown; ProcessName?: unknown; Path?: unknown } | undefined;
  if (!first || typeof first.Id !== 'number') return undefined;
  const name = typeof first.ProcessName === 'string' ? first.ProcessName : '';
  // Path is null for protected processes: the name still identifies the app.
  const path = typeof first.Path === 'string' && first.Path ? first.Path : name;
  if (!path) return undefined;
  return { pid: first.Id, path, name: typeof first.Path === 'string' && first.Path ? displayName(first.Path) : name };
};

export class WindowsAppLookup implements AppLookup {
  /** pid -> identity, trusted for a short while only: Windows reuses pids quickly. */
  private readonly identities = new Map<number, { app: AppIdentity; at: number }>();
  constructor(
    private readonly run: CommandRunner,
    private readonly cacheMs = 30_000,
  ) {}

  forSocket(socket: Socket): Promise<AppIdentity | undefined> {
    const ends = endsOf(socket);
    return ends ? this.forConnection(ends) : Promise.resolve(undefined);
  }

  async forConnection(ends: ConnectionEnds): Promise<AppIdentity | undefined> {
    try {
      const pid = parseOwningProcess((await this.run('powershell.exe', [...POWERSHELL, owningProcessScript(ends)])).stdout);
      if (pid === undefined) return undefined;
      const cached = this.identities.get(pid);
      if (cached && Date.now() - cached.at < this.cacheMs) return cached.app;
      const app = parseProcessJson((await this.run('powershell.exe', [...POWERSHELL, processScript(pid)])).stdout);
      if (app) {
        if (this.identities.size > 512) this.identities.clear();
        this.identities.set(pid, { app, at: Date.now() });
      }
      return app;
    } catch {
      return undefined;
    }
  }
}
