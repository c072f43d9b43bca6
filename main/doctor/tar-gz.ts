/**
 * A .tar.gz of a few in-memory text files (ustar headers, gzip by Node's zlib). Written here
 * rather than with the `tar` package: that package is only a build-time dependency of
 * electron-builder, not one the product ships, and the bundle needs nothing but regular files
 * held in memory, which is one 512-byte header each.
 */
import { gzipSync } from 'node:zlib';

export interface ArchiveFile {
  /** Path inside the archive (ASCII, at most 100 bytes). */
  name: string;
  content: string | Buffer;
}

const BLOCK = 512;

const header = (name: string, size: number, mtime: number): Buffer => {
  const block = Buffer.alloc(BLOCK);
  const field = (text: string, at: number, length: number): void => void block.write(text.slice(0, length), at, length, 'ascii');
  const octal = (value: number, at: number, length: number): void => field(`${value.toString(8).padStart(length - 1, '0')}\0`, at, length);
  if (Buffer.byteLength(name) > 100) throw new Error(`Archive path too long: ${name}`);
  field(name, 0, 100);
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(Math.floor(mtime / 1000), 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  field('pinhole', 265, 32);
  field('pinhole', 297, 32);
  let sum = 0;
  for (const byte of block) sum += byte;
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return block;
};

/** The archive's bytes, gzip-compressed. */
export const tarGz = (files: readonly ArchiveFile[], mtime = Date.now()): Buffer => {
  const parts: Buffer[] = [];
  for (const file of files) {
    const body = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    parts.push(header(file.name, body.length, mtime), body);
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(parts));
};
