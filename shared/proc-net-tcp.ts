/**
 * Parser for Linux /proc/net/tcp and /proc/net/tcp6. Addresses are hex words in the kernel's
 * byte order (little-endian on x86 and ARM): "0100007F:1F90" is 127.0.0.1:8080. IPv4-mapped
 * IPv6 addresses come out as plain IPv4 so both files compare alike. Pure: the client finds the
 * application behind a connection with it, both CLIs the program that holds a port.
 */
import { formatIPv6, unmapV4 } from './ip.js';

export interface ProcTcpEntry {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Kernel state, e.g. 0x01 ESTABLISHED, 0x0A LISTEN. */
  state: number;
  uid: number;
  inode: number;
}

const word = (hex: string, littleEndian: boolean): number[] => {
  const bytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return littleEndian ? bytes.reverse() : bytes;
};

/** "0100007F" -> "127.0.0.1"; 32 hex digits -> compressed IPv6 (or IPv4 when mapped). */
export const decodeProcAddress = (hex: string, littleEndian = true): string | undefined => {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  if (hex.length === 8) return word(hex, littleEndian).join('.');
  if (hex.length !== 32) return undefined;
  return unmapV4(formatIPv6([0, 8, 16, 24].flatMap((i) => word(hex.slice(i, i + 8), littleEndian))));
};

const splitEndpoint = (text: string, littleEndian: boolean): { address: string; port: number } | undefined => {
  const [hexAddr, hexPort] = text.split(':');
  if (!hexAddr || !hexPort || !/^[0-9A-Fa-f]{4}$/.test(hexPort)) return undefined;
  const address = decodeProcAddress(hexAddr, littleEndian);
  return address === undefined ? undefined : { address, port: parseInt(hexPort, 16) };
};

/** Every well-formed connection line; the header and malformed lines are skipped. */
export const parseProcNetTcp = (text: string, littleEndian = true): ProcTcpEntry[] => {
  const out: ProcTcpEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0] ?? '')) continue;
    const local = splitEndpoint(f[1] ?? '', littleEndian);
    const remote = splitEndpoint(f[2] ?? '', littleEndian);
    const state = parseInt(f[3] ?? '', 16);
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (!local || !remote || Number.isNaN(state) || !Number.isInteger(uid) || !Number.isInteger(inode)) continue;
    out.push({ localAddress: local.address, localPort: local.port, remoteAddress: remote.address, remotePort: remote.port, state, uid, inode });
  }
  return out;
};
