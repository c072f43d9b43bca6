/**
 * Self-signed certificates for test peers (origins, stunnel in server mode), made by the real
 * `openssl` so the files look exactly like the ones operators make for the seed setup.
 */
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  /** PEM text of the certificate. */
  cert: string;
  /** PEM text of the private key. */
  key: string;
  certPath: string;
  keyPath: string;
  /** Certificate followed by key in one file (what stunnel's `cert =` takes, as in the seed). */
  pemPath: string;
  /** SHA-256 of the DER certificate: 64 upper-case hex digits, no colons. */
  sha256: string;
  dir: string;
}

export interface CertificateRequest {
  commonName?: string;
  /** Subject alternative names; IP literals become IP entries, the rest DNS entries. */
  altNames?: string[];
  /** 'ec' (P-256, the default) or 'rsa' (2048). */
  keyType?: 'ec' | 'rsa';
  /** Directory to write into; a fresh temporary directory when omitted. */
  dir?: string;
  days?: number;
}

const isIp = (name: string): boolean => /^[0-9.]+$/.test(name) || name.includes(':');

export const makeSelfSignedCertificate = async (request: CertificateRequest = {}): Promise<TestCertificate> => {
  const commonName = request.commonName ?? 'localhost';
  const altNames = request.altNames ?? [commonName, '127.0.0.1'];
  const dir = request.dir ?? (await mkdtemp(join(tmpdir(), 'pinhole-cert-')));
  const keyPath = join(dir, `${commonName}.key`);
  const certPath = join(dir, `${commonName}.crt`);
  const pemPath = join(dir, `${commonName}.pem`);
  const san = altNames.map((name) => (isIp(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  const keyArgs = request.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await run('openssl', [
    'req', '-x509', '-nodes', ...keyArgs,
    '-days', String(request.days ?? 30),
    '-subj', `/CN=${commonName}`,
    '-addext', `subjectAltName=${san}`,
    '-keyout', keyPath,
    '-out', certPath,
  ]);
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  await writeFile(pemPath, cert + key, { mode: 0o600 });
  // Squid and stunnel may drop privileges; the key stays readable only through the combined file's owner.
  await chmod(certPath, 0o644);
  const der = new X509Certificate(cert).raw;
  const sha256 = createHash('sha256').update(der).digest('hex').toUpperCase();
  return { cert, key, certPath, keyPath, pemPath, sha256, dir };
};
