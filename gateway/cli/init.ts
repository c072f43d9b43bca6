/** `init --dir DIR --hostname NAME [--force]`: config, empty users file, self-signed cert; prints the fingerprint. */
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { formatPin } from '../../shared/profile.js';
import { createSelfSigned } from '../certs.js';
import { configPath } from '../config.js';
import { usage } from './common.js';
import { unwritableFile } from '../../node/startup-files.js';

/** One step of writing the gateway's directory; a failure names the file (PINHOLE_WRITE_FAILED). */
const writing = async (file: string, what: string, step: () => Promise<unknown>): Promise<void> => {
  try {
    await step();
  } catch (err) {
    throw unwritableFile(err, file, what);
  }
};

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export async function init(opts: { dir: string; hostname: string; force: boolean }): Promise<string> {
  if (!HOSTNAME.test(opts.hostname)) usage(`--hostname ${opts.hostname} is not a DNS name.`);
  const exists = await stat(configPath(opts.dir)).then(
    () => true,
    () => false,
  );
  if (exists && !opts.force) usage(`${configPath(opts.dir)} already exists; use --force to replace it.`);
  await writing(opts.dir, 'the gateway directory (--dir)', () => mkdir(opts.dir, { recursive: true, mode: 0o700 }));
  const cert = await createSelfSigned(opts.hostname);
  const keyFile = join(opts.dir, 'key.pem');
  await writing(keyFile, 'the key file', async () => {
    await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
    await chmod(keyFile, 0o600);
  });
  const certFile = join(opts.dir, 'cert.pem');
  await writing(certFile, 'the certificate file', () => writeFile(certFile, cert.certPem, { mode: 0o644 }));
  const users = join(opts.dir, 'users.htpasswd');
  const usersExist = await stat(users).then(
    () => true,
    () => false,
  );
  await writing(users, 'the users file', async () => {
    if (!usersExist) await writeFile(users, '', { mode: 0o600 });
    await chmod(users, 0o600);
  });
  const config = {
    hostname: opts.hostname,
    listen: '0.0.0.0:443',
    cert: 'cert.pem',
    key: 'key.pem',
    operatorCert: false,
    users: 'users.htpasswd',
    allowPorts: [443],
    restrictTo: [],
  };
  const header = '# Pinhole gateway. Set cert/key to your own files and operatorCert: true to use a CA-issued certificate.\n';
  await writing(configPath(opts.dir), 'the gateway configuration', () => writeFile(configPath(opts.dir), header + stringify(config), { mode: 0o600 }));
  return formatPin(cert.sha256);
}
