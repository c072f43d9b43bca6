/**
 * Run inside `unshare -rm` with a small tmpfs mounted on argv[2] (users-file.test.ts): writes a
 * users file, fills the rest of the disk, then tries one more change. Prints one JSON line: the
 * error's code and message, and the file as it is afterwards.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { changeUsers, edits } from '../../gateway/users-file.js';

const dir = process.argv[2] ?? '';
const file = join(dir, 'users.htpasswd');
const hash = (n: number): string => `$2b$10$${String(n).padStart(53, 'a')}`;
await changeUsers(file, edits.add('alice', hash(1)));
const before = readFileSync(file, 'utf8');
// Fill the disk: one byte at a time at the end, so nothing is left at all.
try {
  writeFileSync(join(dir, 'filler'), Buffer.alloc(1024 * 1024));
} catch {
  // ENOSPC: the filler took what it could.
}
let outcome: { code?: string; message?: string } = {};
try {
  await changeUsers(file, edits.add('bob', hash(2)));
} catch (err) {
  outcome = { code: (err as { code?: string }).code, message: (err as Error).message };
}
process.stdout.write(`${JSON.stringify({ ...outcome, before, after: readFileSync(file, 'utf8'), leftovers: readdirSync(dir).filter((f) => f !== 'filler' && f !== 'users.htpasswd') })}\n`);
