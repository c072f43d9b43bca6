/** PAC serving: `GET /proxy.pac` on the local proxy answers with the routing's PAC file. */
import type { ServerResponse } from 'node:http';

/** The PAC when no routing provides one: everything through this proxy. */
export const everythingThrough = ({ host, port }: { host: string; port: number }): string => `function FindProxyForURL(url, host) {\n  return "PROXY ${host}:${port}";\n}\n`;

export const isPacRequest = (method: string | undefined, url: string): boolean => method === 'GET' && url.split('?')[0] === '/proxy.pac';

export const servePac = (res: ServerResponse, pac: string): void => {
  res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(pac) });
  res.end(pac);
};
