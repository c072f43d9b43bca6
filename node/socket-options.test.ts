/**
 * Every door takes its socket options from node/socket-options.ts: a product file that creates a
 * server or opens a connection with Node's own functions passes LISTENER_OPTIONS or
 * DIAL_SOCKET_OPTIONS, or wraps a socket that was already made (createConnection, `socket:`,
 * an agent). A new door that forgets fails here, before it adds 40 ms to each exchange.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DIAL_SOCKET_OPTIONS, LISTENER_OPTIONS, tuneSocket } from './socket-options.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const PRODUCT = ['main', 'gateway', 'node', 'app', 'shared'];
const MODULES = /^node:(net|tls|http|https|http2)$/;
/** Functions that create a listener or open a TCP connection. */
const CREATORS = new Set(['createServer', 'createSecureServer', 'connect', 'createConnection', 'request', 'get']);
/** What a call's arguments must mention: the options, or a socket (or agent) made elsewhere. */
const TUNED = /\b(LISTENER_OPTIONS|DIAL_SOCKET_OPTIONS|createConnection|agent)\b|\bsocket\s*[,:}]/;

const productFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : productFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });

/** Local names bound to Node's creators, by `import { createServer as X } from 'node:net'` or `import * as net`. */
const creatorNames = (source: string): string[] => {
  const names: string[] = [];
  for (const match of source.matchAll(/import\s+(\{[^}]*\}|\*\s+as\s+\w+|\w+)\s+from\s+'([^']+)'/g)) {
    const [, clause = '', module = ''] = match;
    if (!MODULES.test(module)) continue;
    if (!clause.startsWith('{')) {
      const namespace = clause.replace(/^\*\s+as\s+/, '');
      for (const creator of CREATORS) names.push(`${namespace}.${creator}`);
      continue;
    }
    for (const part of clause.slice(1, -1).split(',')) {
      const [imported = '', local] = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/);
      if (!part.trim().startsWith('type ') && CREATORS.has(imported)) names.push(local ?? imported);
    }
  }
  return names;
};

/** The text between a call's parentheses (`open` is the index of its '('). */
const argumentsAt = (source: string, open: number): string => {
  let depth = 0;
  for (let i = open; i < source.length; i += 1) {
    if (source[i] === '(') depth += 1;
    else if (source[i] === ')' && (depth -= 1) === 0) return source.slice(open + 1, i);
  }
  return source.slice(open + 1);
};

const untunedCalls = (source: string): string[] =>
  creatorNames(source).flatMap((name) => {
    const call = new RegExp(`(?<![\\w.])${name.replace('.', '\\.')}\\s*\\(`, 'g');
    return [...source.matchAll(call)].filter((m) => !TUNED.test(argumentsAt(source, m.index + m[0].length - 1))).map((m) => `${name}(${argumentsAt(source, m.index + m[0].length - 1).slice(0, 60)}`);
  });

test('every server and connection a product file creates takes its options from node/socket-options.ts', () => {
  const offenders = PRODUCT.flatMap((dir) => productFiles(join(root, dir)))
    .filter((file) => !file.endsWith(join('node', 'socket-options.ts')))
    .flatMap((file) => untunedCalls(readFileSync(file, 'utf8')).map((call) => `${relative(root, file)}: ${call}`));
  assert.deepEqual(offenders, [], 'pass LISTENER_OPTIONS or DIAL_SOCKET_OPTIONS (node/socket-options.ts)');
});

test('the scan sees a forgotten door', () => {
  const forgotten = `import { createServer as createNetServer } from 'node:net';\nimport * as tls from 'node:tls';\nconst a = createNetServer({ pauseOnConnect: true }, (s) => s);\nconst b = tls.connect({ host: 'x', port: 1 });\nconst c = createNetServer({ ...LISTENER_OPTIONS }, (s) => s);\nconst d = tls.connect({ socket, servername: 'x' });\n`;
  assert.deepEqual(untunedCalls(forgotten).map((call) => call.split('(')[0]), ['createNetServer', 'tls.connect']);
});

test('the options turn Nagle off, and tuneSocket does it on a socket made elsewhere', () => {
  assert.equal(LISTENER_OPTIONS.noDelay, true);
  assert.equal(DIAL_SOCKET_OPTIONS.noDelay, true);
  const calls: Array<boolean | undefined> = [];
  const socket = { setNoDelay: (on?: boolean) => (calls.push(on), socket) };
  assert.equal(tuneSocket(socket), socket);
  assert.deepEqual(calls, [true]);
});
