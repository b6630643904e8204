// --tls-min-version and --tls-cipher-suites as upstream reads them (k8s.io/component-base
// cli/flag: Go's crypto/tls names), turned into Node's TLS options. Upstream's defaults: TLS 1.2
// and up, Go's default cipher suites. As in Go, the TLS 1.3 suites cannot be chosen: all three
// are always on, and TLS 1.3 names in the list are accepted and change nothing.
import { getCiphers } from 'node:tls';
import type { SecureVersion } from 'node:tls';

export interface TlsPolicy {
  minVersion: SecureVersion;
  /** OpenSSL's cipher string: the TLS 1.3 suites, then the TLS 1.2 ones in order. */
  ciphers: string;
}

const VERSIONS: Readonly<Record<string, SecureVersion>> = {
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

/** Go's TLS 1.3 suites: always enabled, not configurable (crypto/tls). */
const TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** tls.CipherSuites() of Go: name → OpenSSL name. */
const SECURE: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // component-base keeps the names Go used before 1.14.
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/** tls.InsecureCipherSuites() of Go: accepted with a warning, as upstream. */
const INSECURE: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
};

/** Go's default suites for TLS 1.2 and below (crypto/tls defaultCipherSuites, Go 1.22 and later). */
const GO_DEFAULT = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
];

export const TLS_VERSION_NAMES: readonly string[] = Object.keys(VERSIONS);

export interface TlsPolicyResult {
  policy?: TlsPolicy;
  /** One line each, upstream's wording where it has one; any stops the start. */
  errors: string[];
  warnings: string[];
}

/** The policy for the flags' values; an empty version or list means upstream's default. */
export function tlsPolicy(minVersion: string, cipherSuites: readonly string[]): TlsPolicyResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const version = minVersion === '' ? 'TLSv1.2' : VERSIONS[minVersion];
  if (version === undefined)
    errors.push(
      `--tls-min-version: unknown tls version ${JSON.stringify(minVersion)} (possible values: ${TLS_VERSION_NAMES.join(', ')})`,
    );
  const available = new Set(getCiphers().map((c) => c.toUpperCase()));
  const tls12: string[] = [];
  for (const name of cipherSuites.length === 0 ? GO_DEFAULT : cipherSuites) {
    if (TLS13.includes(name)) continue;
    const openssl = SECURE[name] ?? INSECURE[name];
    if (openssl === undefined) {
      errors.push(`--tls-cipher-suites: cipher suite ${name} not supported or doesn't exist`);
      continue;
    }
    if (INSECURE[name] !== undefined) warnings.push(`Use of insecure cipher '${name}' detected.`);
    // Go names RC4 and 3DES suites that this build's OpenSSL no longer offers.
    if (!available.has(openssl)) {
      errors.push(
        `--tls-cipher-suites: cipher suite ${name} (OpenSSL ${openssl}) is not available in this build's OpenSSL`,
      );
      continue;
    }
    if (!tls12.includes(openssl)) tls12.push(openssl);
  }
  if (errors.length > 0 || version === undefined) return { errors, warnings };
  return {
    policy: { minVersion: version, ciphers: [...TLS13, ...tls12].join(':') },
    errors,
    warnings,
  };
}

/** Upstream's defaults: TLS 1.2 and up, Go's default suites. */
export function defaultTlsPolicy(): TlsPolicy {
  const { policy } = tlsPolicy('', []);
  if (!policy) throw new Error("Go's default cipher suites are missing from this build's OpenSSL");
  return policy;
}
