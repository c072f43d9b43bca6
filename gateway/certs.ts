/**
 * Self-signed ECDSA P-256 certificates for `init`, and their SHA-256 fingerprints. @peculiar/x509
 * (with its ASN.1 stack, a few hundred modules) is loaded only by `init`, not by every start.
 */
import { X509Certificate, createHash, webcrypto } from 'node:crypto';

export interface SelfSigned {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the DER certificate, 64 upper-case hex digits. */
  readonly sha256: string;
}

const loadX509 = async (): Promise<typeof import('@peculiar/x509')> => {
  await import('reflect-metadata'); // @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill first.
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  return x509;
};

export async function createSelfSigned(hostname: string, days = 825): Promise<SelfSigned> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto.getRandomValues(new Uint8Array(16)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '7'),
    name: `CN=${hostname.replace(/[,=+<>#;"\\]/g, '')}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * 86_400_000),
    signingAlgorithm: alg,
    keys: keys as unknown as CryptoKeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: hostname }]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const certPem = cert.toString('pem');
  return { certPem: `${certPem}\n`, keyPem: `${keyPem}\n`, sha256: fingerprintOf(certPem) };
}

/** SHA-256 of a PEM certificate's DER bytes (first certificate in the text), 64 upper-case hex. */
export function fingerprintOf(certPem: string | Buffer): string {
  const der = new X509Certificate(certPem).raw;
  return createHash('sha256').update(der).digest('hex').toUpperCase();
}
