/**
 * Which program holds a local port, for the sentence of PINHOLE_ADDRESS_IN_USE: the socket's inode
 * from /proc/net/{tcp,tcp6,udp,udp6}, then the process whose /proc/PID/fd links to `socket:[inode]`.
 * Linux only; elsewhere, or where /proc does not let us look (another user's process), undefined.
 * Synchronous on purpose: it runs once, on a start that already failed.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { parseProcNetTcp } from '../shared/proc-net-tcp.js';

export interface PortHolder {
  readonly pid: number;
  /** The process's name (/proc/PID/comm), e.g. "nginx". */
  readonly name: string;
}

/** The kernel's state for a listening TCP socket; a UDP socket has no such state. */
const TCP_LISTEN = 0x0a;

const readOr = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/** Inodes of the sockets bound to `port`: listening ones first (TCP), any with that local port after. */
export const socketInodes = (port: number, protocol: 'tcp' | 'udp', proc = '/proc'): number[] => {
  const entries = [`${protocol}`, `${protocol}6`].flatMap((file) => parseProcNetTcp(readOr(`${proc}/net/${file}`))).filter((e) => e.localPort === port && e.inode !== 0);
  const listening = entries.filter((e) => protocol === 'udp' || e.state === TCP_LISTEN);
  return [...new Set([...listening, ...entries].map((e) => e.inode))];
};

const holderOf = (inodes: ReadonlySet<string>, proc: string): PortHolder | undefined => {
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`${proc}/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`${proc}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (inodes.has(link)) return { pid: Number(pid), name: readOr(`${proc}/${pid}/comm`).trim() || `pid ${pid}` };
    }
  }
  return undefined;
};

/** The process holding `port` on this machine, when /proc says. */
export const findPortHolder = (port: number, protocol: 'tcp' | 'udp' = 'tcp', proc = '/proc'): PortHolder | undefined => {
  const inodes = socketInodes(port, protocol, proc);
  if (inodes.length === 0) return undefined;
  return holderOf(new Set(inodes.map((inode) => `socket:[${inode}]`)), proc);
};
