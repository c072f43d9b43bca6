/**
 * Is this network a captive portal? Asked only after the gateway's certificate failed its pin (or
 * its CA): a plain HTTP GET to a probe address (by default the gateway's own name on port 80) that
 * is answered with a redirect, or with 511 Network Authentication Required, means the network
 * intercepts traffic until the user signs in. The probe carries no credential and follows nothing.
 */
import { request } from 'node:http';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The probe address for a gateway endpoint host: `http://HOST/` (IPv6 literals bracketed). */
export const defaultPortalProbe = (host: string): string => `http://${host.includes(':') ? `[${host}]` : host}/`;

/** Where the portal sends the user (absolute), or undefined when the network does not look like one. */
export const findCaptivePortal = (probeUrl: string, timeoutMs = 3_000): Promise<string | undefined> =>
  new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(probeUrl);
    } catch {
      resolve(undefined);
      return;
    }
    if (url.protocol !== 'http:') {
      resolve(undefined);
      return;
    }
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': 'Pinhole captive portal check', connection: 'close' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && typeof location === 'string' && location !== '') {
        try {
          resolve(new URL(location, url).href);
        } catch {
          resolve(probeUrl);
        }
      } else resolve(status === 511 ? url.href : undefined);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
