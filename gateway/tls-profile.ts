/**
 * The gateway's TLS offer, as Mozilla's server-side TLS recommendations name them
 * (https://ssl-config.mozilla.org, guidelines 5.7): "intermediate" by default (TLS 1.3, and TLS 1.2
 * with ECDHE key exchange and AEAD suites only: AES-GCM and ChaCha20-Poly1305; no CBC, CCM8 or
 * ARIA, no static RSA or finite-field DHE), "modern" with TLS 1.3 only. The client chooses among
 * them (Mozilla: no server preference, as every suite offered is strong).
 */
import type { SecureContextOptions, TlsOptions } from 'node:tls';

export const TLS_PROFILES = ['intermediate', 'modern'] as const;
export type TlsProfile = (typeof TLS_PROFILES)[number];

/** TLS 1.3's suites (OpenSSL names); CCM suites are left out, as in Mozilla's list. */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** TLS 1.2: ECDHE with AEAD only, Mozilla intermediate's list without the DHE suites. */
const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

export type TlsOffer = Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers'> & Pick<TlsOptions, 'honorCipherOrder'>;

/** The protocol versions and suites one profile offers (Node takes TLS 1.3 and 1.2 suites in one list). */
export function tlsOffer(profile: TlsProfile): TlsOffer {
  if (profile === 'modern') return { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: TLS13_SUITES.join(':'), honorCipherOrder: false };
  return { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: [...TLS13_SUITES, ...TLS12_SUITES].join(':'), honorCipherOrder: false };
}
