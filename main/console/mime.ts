/** Content types of the built renderer's files, for both ways it is served: the console's HTTP server and the desktop app's app:// scheme. */
const RENDERER_MIME: Readonly<Record<string, string>> = {
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
export const rendererContentType = (extension: string): string => RENDERER_MIME[extension.toLowerCase()] ?? 'application/octet-stream';
