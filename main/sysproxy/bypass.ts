/** The bypass list every manual-mode setting carries: loopback and local networks always go direct. */

export const ALWAYS_BYPASS: readonly string[] = [
  'localhost',
  '127.0.0.0/8',
  '::1',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '*.local',
];

/** The local networks first, then the caller's extra entries, without duplicates or blanks. */
export const bypassList = (extra: readonly string[] = []): string[] => {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const entry of [...ALWAYS_BYPASS, ...extra]) {
    const value = entry.trim();
    if (value === '' || seen.has(value)) continue;
    seen.add(value);
    out.push(value);
  }
  return out;
};

const hostForUrl = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/** `host:port`, bracketing an IPv6 literal. */
export const hostPort = (host: string, port: number): string => `${hostForUrl(host)}:${port}`;

/** What to type in a shell when the desktop cannot be configured. */
export const shellExportLine = (host: string, port: number | string): string => {
  const url = `http://${hostForUrl(host)}:${port}`;
  return `export http_proxy=${url} https_proxy=${url} no_proxy=localhost,127.0.0.1,::1`;
};
