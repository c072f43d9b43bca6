/** Shared bits of the gateway CLI: usage errors (exit 2) and reading a password from stdin. */
import { PinholeError } from '../../shared/errors.js';

export class UsageError extends Error {}

export const usage = (message: string): never => {
  throw new UsageError(message);
};

/** Read the whole of stdin and return its first line (the password), without the line ending. */
export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password === '') throw new PinholeError('PINHOLE_USAGE', 'No password on stdin.');
  return password;
}
