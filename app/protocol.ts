/**
 * Serves the built renderer on app://pinhole/ with the CSP header, so the window never loads
 * file:// (which would share an origin with every local file) and the CSP is a real header.
 */
import { extname, join, normalize, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY } from './window.js';
import { rendererContentType } from '../main/console/mime.js';

export interface RendererFile {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

/** Maps an app:// URL to a file in the renderer's dist folder; anything outside it is a 404. */
export const rendererResponse = async (url: string, distDir: string, readFile: (path: string) => Promise<Uint8Array>): Promise<RendererFile> => {
  const headers = { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' };
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return { status: 400, headers, body: 'Bad request' };
  }
  const root = normalize(distDir + sep);
  const full = normalize(join(root, pathname === '/' ? 'index.html' : pathname));
  if (!full.startsWith(root)) return { status: 404, headers, body: 'Not found' };
  try {
    const body = await readFile(full);
    return { status: 200, headers: { ...headers, 'Content-Type': rendererContentType(extname(full)) }, body };
  } catch {
    return { status: 404, headers, body: 'Not found' };
  }
};
