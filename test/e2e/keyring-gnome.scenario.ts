/**
 * Runs inside `dbus-run-session` with a fresh HOME and an unlocked gnome-keyring (see
 * keyring-gnome.test.ts): exercises the real Secret Service and prints one JSON report line.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeLink } from '../../shared/link.js';
import { probeKeychain } from '../../main/keychain/keychain.js';

const exec = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const configDir = process.env.PINHOLE_CONFIG_DIR ?? '';

const filesUnder = async (dir: string): Promise<string[]> => {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if ((await stat(full)).isFile()) out.push(full);
  }
  return out;
};

const secretTool = async (args: string[]): Promise<string | null> => {
  try {
    return (await exec('secret-tool', args)).stdout;
  } catch {
    return null;
  }
};

const report: Record<string, unknown> = {};
const keychain = await probeKeychain();
report.kind = keychain.kind;
report.location = keychain.location;
const ref = 'test:roundtrip';
report.missing = (await keychain.get(ref)) ?? null;
await keychain.set(ref, 'first-Secret-1');
report.read = await keychain.get(ref);
await keychain.set(ref, 'second-Secret-2');
report.updated = await keychain.get(ref);
report.lookupByTool = await secretTool(['lookup', 'service', 'pinhole', 'username', ref]);
report.deleted = await keychain.delete(ref);
report.deletedAgain = await keychain.delete(ref);
report.afterDelete = (await keychain.get(ref)) ?? null;

const password = 'Keyring-Only-Pa55word-7f3a';
const link = encodeLink({ name: 'Vendor', endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', pin: 'ab'.repeat(32), user: 'alice', secret: password });
const pinhole = join(root, 'bin', 'pinhole');
const imported = await exec(pinhole, ['profile', 'import', link, '--json']);
const profile = JSON.parse(imported.stdout) as { id: string; secretRef: string };
report.importStdout = imported.stdout;
report.secretRef = profile.secretRef;
report.profileId = profile.id;
report.keyringHasPassword = await secretTool(['lookup', 'service', 'pinhole', 'username', profile.secretRef]);
report.libraryHasPassword = await keychain.get(profile.secretRef);
const files = await filesUnder(configDir);
report.configFiles = files.map((f) => f.slice(configDir.length + 1));
report.filesWithPassword = [];
for (const file of files) if ((await readFile(file)).includes(password)) (report.filesWithPassword as string[]).push(file);
const listed = await exec(pinhole, ['profile', 'list']);
const shown = await exec(pinhole, ['profile', 'show', 'Vendor']);
report.printedPassword = `${imported.stdout}${listed.stdout}${shown.stdout}`.includes(password);
await exec(pinhole, ['profile', 'remove', 'Vendor']);
report.afterRemove = (await keychain.get(profile.secretRef)) ?? null;
process.stdout.write(`${JSON.stringify(report)}\n`);
