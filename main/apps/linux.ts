/**
 * Linux: the client's socket inode from /proc/net/tcp{,6}, then the process holding
 * `socket:[inode]` among /proc/PID/fd. Processes that owned recent connections are searched first
 * (browsers open many), executables are cached per pid, and the whole search has a time limit.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { Socket } from 'node:net';
import { parseProcNetTcp } from '../../shared/proc-net-tcp.js';
import { displayName, endsOf, type AppIdentity, type AppLookup, type ConnectionEnds } from './types.js';


/** How many fd links of one process are read at once. */
const FD_BATCH = 64;
export interface LinuxAppLookupOptions {
  proc?: string;
  /** Give up after this long (the connection then gets the default action). */
  timeLimitMs?: number;
  /** How many recently matched pids are tried before a full scan. */
  hotPids?: number;
}

export class LinuxAppLookup implements AppLookup {
  private readonly proc: string;
  private readonly timeLimitMs: number;
  private readonly hotLimit: number;
  private readonly littleEndian = endianness() === 'LE';
  /** Most recent first. */
  private hot: number[] = [];
  private readonly identities = new Map<number, { start: string; app: AppIdentity }>();

  constructor({ proc = '/proc', timeLimitMs = 2_000, hotPids = 16 }: LinuxAppLookupOptions = {}) {
    this.proc = proc;
    this.timeLimitMs = timeLimitMs;
    this.hotLimit = hotPids;
  }

  forSocket(socket: Socket): Promise<AppIdentity | undefined> {
    const ends = endsOf(socket);
    return ends ? this.forConnection(ends) : Promise.resolve(undefined);
  }

  async forConnection(ends: ConnectionEnds): Promise<AppIdentity | undefined> {
    const deadline = Date.now() + this.timeLimitMs;
    const inode = await this.inodeOf(ends);
    if (inode === undefined) return undefined;
    const pid = await this.pidOf(inode, deadline);
    if (pid === undefined) return undefined;
    this.hot = [pid, ...this.hot.filter((p) => p !== pid)].slice(0, this.hotLimit);
    return this.identity(pid);
  }

  /** The inode of the client's socket: local end = the client's address, remote end = the proxy. */
  private async inodeOf(ends: ConnectionEnds): Promise<number | undefined> {
    const files = ends.clientAddress.includes(':') ? ['tcp6'] : ['tcp', 'tcp6'];
    for (const file of files) {
      const text = await readFile(`${this.proc}/net/${file}`, 'utf8').catch(() => '');
      const entry = parseProcNetTcp(text, this.littleEndian).find(
        (e) => e.localPort === ends.clientPort && e.remotePort === ends.proxyPort && e.localAddress === ends.clientAddress && e.inode !== 0,
      );
      if (entry) return entry.inode;
    }
    return undefined;
  }

  private async holds(pid: number, target: string): Promise<boolean> {
    const dir = `${this.proc}/${pid}/fd`;
    const fds = await readdir(dir).catch(() => [] as string[]);
    // One readlink at a time made a busy machine (browsers, proxies with thousands of sockets)
    // run out of time before reaching the client; a batch goes through the thread pool at once.
    for (let i = 0; i < fds.length; i += FD_BATCH) {
      const links = await Promise.all(fds.slice(i, i + FD_BATCH).map((fd) => readlink(`${dir}/${fd}`).catch(() => '')));
      if (links.includes(target)) return true;
    }
    return false;
  }

  private async pidOf(inode: number, deadline: number): Promise<number | undefined> {
    const target = `socket:[${inode}]`;
    for (const pid of this.hot) if (await this.holds(pid, target)) return pid;
    const tried = new Set(this.hot);
    const pids = (await readdir(this.proc).catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
    // Newest processes first: a connection that just arrived most likely comes from a recent one.
    pids.sort((a, b) => b - a);
    for (const pid of pids) {
      if (Date.now() > deadline) return undefined;
      if (pid === process.pid || tried.has(pid)) continue;
      if (await this.holds(pid, target)) return pid;
    }
    return undefined;
  }

  private async identity(pid: number): Promise<AppIdentity | undefined> {
    // Field 22 of /proc/PID/stat (start time) tells a reused pid from the one we cached.
    const stat = await readFile(`${this.proc}/${pid}/stat`, 'utf8').catch(() => '');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
    const cached = this.identities.get(pid);
    if (cached && cached.start === start) return cached.app;
    const path = await readlink(`${this.proc}/${pid}/exe`).catch(() => undefined);
    if (!path) return undefined;
    const comm = (await readFile(`${this.proc}/${pid}/comm`, 'utf8').catch(() => '')).trim();
    const app: AppIdentity = { pid, path: path.replace(/ \(deleted\)$/, ''), name: comm || displayName(path) };
    if (this.identities.size > 512) this.identities.clear();
    this.identities.set(pid, { start, app });
    return app;
  }
}
