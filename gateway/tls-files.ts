/**
 * The certificate and key files, read and checked before Node's TLS sees them, so that a wrong
 * file is named with what is wrong with it (not PEM, not a key, a key of another certificate)
 * instead of OpenSSL's "PEM routines::no start line".
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { invalidFile, readStartupFile } from '../node/startup-files.js';

/** A PEM certificate file's bytes; `what` as in "the certificate" or "the next certificate". */
export function readCertificate(file: string, what = 'the certificate'): Buffer {
  const pem = readStartupFile(file, `${what} file`);
  try {
    new X509Certificate(pem);
  } catch (cause) {
    throw invalidFile(file, `${what} file`, 'this is not a PEM certificate (it should begin with -----BEGIN CERTIFICATE-----).', {}, { cause });
  }
  return pem;
}

/** The certificate and its private key, checked to belong together. */
export function readCertificateAndKey(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const cert = readCertificate(certFile);
  const key = readStartupFile(keyFile, 'the key file');
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    throw invalidFile(keyFile, 'the key file', 'this is not a PEM private key (it should begin with -----BEGIN PRIVATE KEY----- or -----BEGIN EC/RSA PRIVATE KEY-----, without a passphrase).', {}, { cause });
  }
  if (!new X509Certificate(cert).checkPrivateKey(privateKey)) {
    throw invalidFile(keyFile, 'the key file', `this key does not belong to the certificate ${certFile}; give the key the certificate was made for.`);
  }
  return { cert, key };
}
