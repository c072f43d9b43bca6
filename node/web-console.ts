/**
 * What both browser consoles (`pinhole console` for the desktop engine, `pinhole-gateway console`
 * for the operator) do the same way over plain node:http: compare secrets in constant time, read a
 * cookie, send the strict security headers, and serve a built Vite app's files without leaving
 * its folder.
 */
import { timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

export const sameSecret = (a: string, b: string): boolean => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

export const cookieValue = (header: string | undefined, name: string): string | undefined => {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
};

export const contentSecurityPolicy = (origin: string): string =>
  [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${origin.replace(/^http/, 'ws')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');

export const sendSecurityHeaders = (res: ServerResponse, origin: string): void => {
  res.setHeader('Content-Security-Policy', contentSecurityPolicy(origin));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
};

/** Content types of a built UI's files (the desktop app's app:// scheme reads them too). */
const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** The Content-Type for a file extension (with its dot); unknown files are opaque bytes. */
export const staticContentType = (extension: string): string => MIME[extension.toLowerCase()] ?? 'application/octet-stream';

/** Send `path` from `dir` (false when it is outside `dir` or not a file; the caller answers 404). */
export const serveStaticFile = async (res: ServerResponse, dir: string, path: string, cache: string, headers: (res: ServerResponse) => void): Promise<boolean> => {
  const root = normalize(dir + sep);
  const full = normalize(join(root, path));
  if (!full.startsWith(root)) return false;
  const info = await stat(full).catch(() => undefined);
  if (!info?.isFile()) return false;
  headers(res);
  res.writeHead(200, { 'Content-Type': staticContentType(extname(full)), 'Content-Length': info.size, 'Cache-Control': cache });
  createReadStream(full).pipe(res);
  return true;
};
