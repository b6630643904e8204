// Certificate authorities and client certificates for tests: the control plane's client and
// front-proxy CAs, and the certificates tests present to the CCM's secure port. EC P-256, so
// generating them costs milliseconds.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

const DAY = 24 * 3600 * 1000;

export async function makeCa(
  commonName: string,
  options: { pathLenConstraint?: number } = {},
): Promise<Pem> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 30 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true, ...options },
      {
        name: 'keyUsage',
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export interface ClientCertOptions {
  /** O= entries: Kubernetes groups. */
  organizations?: string[];
  /** Default clientAuth; serverAuth makes a certificate a client must not use. */
  usage?: 'clientAuth' | 'serverAuth';
  /** Validity window; default from a minute ago for 30 days. */
  notBefore?: Date;
  notAfter?: Date;
  /** Issue as an intermediate CA instead of a leaf. */
  isCa?: boolean;
  /** Key usage keyEncipherment only: no digitalSignature, so not for TLS client authentication. */
  encipherOnly?: boolean;
}

export async function makeClientCert(
  issuer: Pem,
  commonName: string,
  options: ClientCertOptions = {},
): Promise<Pem> {
  const now = Date.now();
  const pems = await generate(
    [
      { name: 'commonName', value: commonName },
      ...(options.organizations ?? []).map((value) => ({ name: 'organizationName', value })),
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: options.notBefore ?? new Date(now - 60_000),
      notAfterDate: options.notAfter ?? new Date(now + 30 * DAY),
      ca: issuer,
      extensions: options.isCa
        ? [
            { name: 'basicConstraints', cA: true, critical: true },
            { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true },
          ]
        : [
            { name: 'basicConstraints', cA: false },
            options.encipherOnly
              ? { name: 'keyUsage', keyEncipherment: true, critical: true }
              : { name: 'keyUsage', digitalSignature: true, critical: true },
            {
              name: 'extKeyUsage',
              ...(options.usage === 'serverAuth' ? { serverAuth: true } : { clientAuth: true }),
            },
          ],
    },
  );
  return { cert: pems.cert, key: pems.private };
}

/** The CAs the test control plane whose kubeconfig this is trusts (controlplane.ts). */
export function controlPlaneCas(kubeconfig: string): { client: Pem; frontProxy: Pem } {
  const read = (name: string): Pem => ({
    cert: readFileSync(join(dirname(kubeconfig), `${name}.crt`), 'utf8'),
    key: readFileSync(join(dirname(kubeconfig), `${name}.key`), 'utf8'),
  });
  return { client: read('client-ca'), frontProxy: read('front-proxy-ca') };
}

/**
 * A certificate the openssl CLI issues, for extensions the selfsigned package cannot write (name
 * constraints, an unknown critical extension). `extensions` are openssl.cnf lines; without an
 * issuer the certificate signs itself.
 */
export function opensslCert(commonName: string, extensions: readonly string[], issuer?: Pem): Pem {
  const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-openssl-'));
  try {
    const file = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const ext = file('ext.cnf', `[ext]\n${extensions.join('\n')}\n`);
    const keyPath = join(dir, 'key.pem');
    const openssl = (args: string[]): void => {
      execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    };
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPath]);
    const subject = ['-subj', `/CN=${commonName}`];
    const out = join(dir, 'cert.pem');
    if (issuer) {
      const csr = join(dir, 'req.csr');
      openssl(['req', '-new', '-key', keyPath, ...subject, '-out', csr]);
      const caCert = file('ca.pem', issuer.cert);
      const caKey = file('ca.key', issuer.key);
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-days',
        '30',
        '-sha256',
        '-extfile',
        ext,
        '-extensions',
        'ext',
        '-out',
        out,
      ]);
    } else {
      const config = file(
        'req.cnf',
        `[req]\ndistinguished_name=dn\n[dn]\n[ext]\n${extensions.join('\n')}\n`,
      );
      openssl([
        'req',
        '-x509',
        '-new',
        '-key',
        keyPath,
        ...subject,
        '-days',
        '30',
        '-sha256',
        '-config',
        config,
        '-extensions',
        'ext',
        '-out',
        out,
      ]);
    }
    return { cert: readFileSync(out, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The certificate with one bit of its signature flipped: well formed, signed by nobody. */
export function tamperSignature(pem: Pem): Pem {
  const der = Buffer.from(pem.cert.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { ...pem, cert: `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n` };
}
