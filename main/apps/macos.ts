/**
 * macOS: `lsof -nP -iTCP@ADDR:PORT -Fpcn` lists the sockets using the client's port; the one whose
 * local end is the client's (n field "client->proxy") belongs to the app. The executable path comes
 * from `ps -o comm= -p PID` (the full path on macOS). Both outputs are parsed by pure functions.
 */
import type { Socket } from 'node:net';
import type { CommandRunner } from '../sysproxy/types.js';
import { displayName, endsOf, type AppIdentity, type AppLookup, type ConnectionEnds } from './types.js';

export interface LsofSocket {
  pid: number;
  command: string;
  /** "127.0.0.1:54321->127.0.0.1:8080" */
  name: string;
}

/** `lsof -F pcn` output: a `p` line starts a process, `c` names it, each `n` is one of its files. */
export const parseLsofFields = (text: string): LsofSocket[] => {
  const out: LsofSocket[] = [];
  let pid: number | undefined;
  let command = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const tag = line[0];
    const value = line.slice(1);
    if (tag === 'p') {
      pid = /^\d+$/.test(value) ? Number(value) : undefined;
      command = '';
    } else if (tag === 'c') command = value;
    else if (tag === 'n' && pid !== undefined) out.push({ pid, command, name: value });
  }
  return out;
};

const hostPort = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

/** The process whose socket's local end is the client's address and port and whose remote end is the proxy. */
export const pickLsofClient = (sockets: readonly LsofSocket[], ends: ConnectionEnds, ownPid: number): LsofSocket | undefined => {
  const wanted = `${hostPort(ends.clientAddress, ends.clientPort)}->${hostPort(ends.proxyAddress, ends.proxyPort)}`;
  return sockets.find((s) => s.pid !== ownPid && s.name === wanted) ?? sockets.find((s) => s.pid !== ownPid && s.name.startsWith(`${hostPort(ends.clientAddress, ends.clientPort)}->`));
};

/** `ps -o comm= -p PID`: one line, the executable path. */
export const parsePsComm = (text: string): string | undefined => {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  return line || undefined;
};

export class MacAppLookup implements AppLookup {
  private readonly paths = new Map<number, string>();
  constructor(private readonly run: CommandRunner, private readonly ownPid: number = process.pid) {}

  forSocket(socket: Socket): Promise<AppIdentity | undefined> {
    const ends = endsOf(socket);
    return ends ? this.forConnection(ends) : Promise.resolve(undefined);
  }

  async forConnection(ends: ConnectionEnds): Promise<AppIdentity | undefined> {
    try {
      const { stdout } = await this.run('lsof', ['-nP', `-iTCP@${hostPort(ends.clientAddress, ends.clientPort)}`, '-Fpcn']);
      const hit = pickLsofClient(parseLsofFields(stdout), ends, this.ownPid);
      if (!hit) return undefined;
      let path = this.paths.get(hit.pid);
      if (!path) {
        path = parsePsComm((await this.run('ps', ['-o', 'comm=', '-p', String(hit.pid)])).stdout) ?? hit.command;
        if (this.paths.size > 512) this.paths.clear();
        this.paths.set(hit.pid, path);
      }
      return { pid: hit.pid, path, name: displayName(path) };
    } catch {
      // lsof exits 1 when nothing matches (the client already left): the app is simply unknown.
      return undefined;
    }
  }
}
