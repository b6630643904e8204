// Certificate authorities and client certificates for tests: the control plane's client and
// front-proxy CAs, and the certificates tests present to the CCM's secure port. EC P-256, so
// generating them costs milliseconds.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

const DAY = 24 * 3600 * 1000;

export async function makeCa(commonName: string): Promise<Pem> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 30 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
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
            { name: 'keyUsage', digitalSignature: true, critical: true },
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
