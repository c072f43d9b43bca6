/** Per-app routing: who owns a connection that arrived at the local proxy. */
import type { Socket } from 'node:net';
import { unmapV4 } from '../../shared/ip.js';

export interface AppIdentity {
  pid: number;
  /** Executable path: the app's identity in rules. */
  path: string;
  /** Display name ("curl", "Safari", "chrome.exe"). */
  name: string;
}

export interface AppLookup {
  /** The process on the other end of a socket accepted by the local proxy, or undefined when it cannot be told. */
  forSocket(socket: Socket): Promise<AppIdentity | undefined>;
}

/** The client's end of the connection (what the proxy sees as remote) and the proxy's end. */
export interface ConnectionEnds {
  clientAddress: string;
  clientPort: number;
  proxyAddress: string;
  proxyPort: number;
}

export const endsOf = (socket: Socket): ConnectionEnds | undefined => {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return undefined;
  return { clientAddress: unmapV4(remoteAddress), clientPort: remotePort, proxyAddress: unmapV4(localAddress), proxyPort: localPort };
};


/** "Safari" for "/Applications/Safari.app/Contents/MacOS/Safari", else the file name. */
export const displayName = (path: string): string => {
  const bundle = /([^/\\]+)\.app[/\\]/.exec(path);
  if (bundle?.[1]) return bundle[1];
  return path.split(/[/\\]/).pop() || path;
};
