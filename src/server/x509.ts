// Client certificate checks for the secure port: the TLS layer only asks for a certificate, and
// each authenticator verifies it against its own CA bundle (the client CA, or the request-header
// CA), as upstream's x509 verifiers do, because a certificate trusted by one bundle must not
// pass for the other.
import { X509Certificate } from 'node:crypto';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
const MAX_CHAIN = 8;

/** The certificates of a PEM bundle; throws on a bundle with none or with garbage. */
export function parseBundle(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${what}: no PEM certificate found`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new Error(
        `${what}: certificate ${i + 1}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  });
}

function timely(cert: X509Certificate, now: Date): boolean {
  return cert.validFromDate <= now && now <= cert.validToDate;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * Throws unless leaf chains, through the intermediates the client sent, to a root of the bundle,
 * every certificate on the way valid now, and leaf is usable for client authentication.
 */
export function verifyClientCertificate(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now = new Date(),
): void {
  const usages = leaf.keyUsage;
  if (usages && !usages.includes(CLIENT_AUTH) && !usages.includes(ANY_EXTENDED_KEY_USAGE))
    throw new Error('certificate is not valid for client authentication');
  if (!timely(leaf, now)) throw new Error('certificate has expired or is not yet valid');
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const root = roots.find((r) => timely(r, now) && issuedBy(current, r));
    if (root) return;
    const next = intermediates.find((c) => c !== current && timely(c, now) && issuedBy(current, c));
    if (!next) break;
    current = next;
  }
  throw new Error('certificate signed by unknown authority');
}

/** CN and O of a subject, the way Kubernetes maps them to user name and groups. */
export function subjectNames(cert: X509Certificate): {
  commonName: string;
  organizations: string[];
} {
  const subject = cert.toLegacyObject().subject as unknown as Record<string, string | string[]>;
  const list = (v: string | string[] | undefined): string[] =>
    v === undefined ? [] : Array.isArray(v) ? v : [v];
  // Go's pkix.Name keeps the last CN when a subject has several.
  return { commonName: list(subject['CN']).at(-1) ?? '', organizations: list(subject['O']) };
}
