/** The identity part of the CLI (issue 18): `credential-keys rotate`, the fleet's tunnel-credential keys. */
import { parseArgs } from 'node:util';
import { CREDENTIAL_KEYS_KEEP, rotateCredentialKeys } from '../identity/credential-keys.js';
import { usage } from './common.js';

/** `credential-keys rotate --file FILE [--keep N]`: a new first key signs; the previous ones still verify. */
export async function credentialKeysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { file: { type: 'string' }, keep: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals[0] !== 'rotate' || positionals.length > 1) usage('Use: credential-keys rotate --file FILE [--keep N]');
  const file = values.file ?? usage('--file is required.');
  const keep = values.keep === undefined ? CREDENTIAL_KEYS_KEEP : Number(values.keep);
  if (!Number.isInteger(keep) || keep < 1) usage(`--keep ${values.keep} must be a whole number of keys, 1 or more.`);
  const keys = await rotateCredentialKeys(file, keep);
  process.stderr.write(`${file} now holds ${keys.length} key${keys.length === 1 ? '' : 's'}; the new one signs tunnel credentials, the others still verify. Copy it to every gateway of the fleet.\n`);
  return 0;
}
