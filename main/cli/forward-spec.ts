/**
 * The `-L` argument of `pinhole forward`, as wstunnel and `ssh -L` spell it:
 *   PORT:HOST:PORT            listen on 127.0.0.1:PORT
 *   BIND:PORT:HOST:PORT       listen on BIND:PORT (IPv6 literals bracketed: [::1]:8022:host:22)
 *   stdio:HOST:PORT           standard input/output is the connection (an SSH ProxyCommand)
 *   udp:[BIND:]PORT:HOST:PORT a local UDP port, one flow per source address (wstunnel's `-L udp://`)
 * HOST may be a bracketed IPv6 literal. Pure, so every malformed form has a table test.
 */
import { PinholeError } from '../../shared/errors.js';

export interface ForwardTarget {
  readonly host: string;
  readonly port: number;
}

export type ForwardSpec =
  | { readonly kind: 'listen'; readonly bindHost: string; readonly bindPort: number; readonly target: ForwardTarget }
  | { readonly kind: 'stdio'; readonly target: ForwardTarget }
  | { readonly kind: 'udp'; readonly bindHost: string; readonly bindPort: number; readonly target: ForwardTarget };

const usage = (spec: string, why: string): PinholeError =>
  new PinholeError('PINHOLE_USAGE', `-L ${spec}: ${why}; expected [BIND:]PORT:HOST:PORT, udp:[BIND:]PORT:HOST:PORT or stdio:HOST:PORT.`);

/** Split on ':' outside brackets; brackets are kept off the parts. */
function fields(text: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close === -1) return undefined;
      out.push(text.slice(i + 1, close));
      i = close + 1;
      if (i < text.length && text[i] !== ':') return undefined;
      i++;
      continue;
    }
    const colon = text.indexOf(':', i);
    const end = colon === -1 ? text.length : colon;
    const part = text.slice(i, end);
    if (part.includes(']')) return undefined;
    out.push(part);
    i = end + 1;
  }
  return out;
}

function port(text: string, allowZero: boolean): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 && (allowZero || n > 0) ? n : undefined;
}

export function parseForwardSpec(spec: string): ForwardSpec {
  const parts = fields(spec.trim());
  if (parts === undefined) throw usage(spec, 'an IPv6 literal is not bracketed properly');
  if (parts.some((p) => p === '')) throw usage(spec, 'a part is empty');
  const target = (host: string, portText: string): ForwardTarget => {
    const p = port(portText, false);
    if (p === undefined) throw usage(spec, `${portText} is not a destination port (1-65535)`);
    return { host, port: p };
  };
  if (parts[0]?.toLowerCase() === 'stdio') {
    if (parts.length !== 3) throw usage(spec, 'stdio takes HOST:PORT');
    return { kind: 'stdio', target: target(parts[1]!, parts[2]!) };
  }
  const udp = parts[0]?.toLowerCase() === 'udp';
  const local = udp ? parts.slice(1) : parts;
  let bindHost = '127.0.0.1';
  let rest = local;
  if (local.length === 4) {
    bindHost = local[0]!;
    rest = local.slice(1);
  } else if (local.length !== 3) {
    throw usage(spec, udp ? `udp: takes [BIND:]PORT:HOST:PORT, not ${local.length} parts` : `it has ${parts.length} parts`);
  }
  const bindPort = port(rest[0]!, true);
  if (bindPort === undefined) throw usage(spec, `${rest[0]} is not a local port (0-65535)`);
  return { kind: udp ? 'udp' : 'listen', bindHost, bindPort, target: target(rest[1]!, rest[2]!) };
}
