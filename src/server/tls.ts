// What the secure port serves with: the operator's certificate pair, or (like upstream's
// --cert-dir default) a self-signed certificate generated in memory at start. Nothing is written
// to disk, so the image works with a read-only root filesystem.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** True when generated here; logged so operators know why clients see an unknown issuer. */
  selfSigned: boolean;
}

export function readTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    selfSigned: false,
  };
}

/** A one-year EC P-256 certificate for localhost, the host name and the bind address. */
export async function selfSignedTls(bindAddress: string): Promise<TlsMaterial> {
  const names = new Set(['localhost', hostname()]);
  const ips = new Set(['127.0.0.1', '::1']);
  if (isIP(bindAddress) && bindAddress !== '0.0.0.0' && bindAddress !== '::') ips.add(bindAddress);
  const now = new Date();
  const pems = await generate(
    [{ name: 'commonName', value: `${hostname()}@${Math.floor(now.getTime() / 1000)}` }],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - 60_000),
      notAfterDate: new Date(now.getTime() + 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            ...[...names].map((value) => ({ type: 2 as const, value })),
            ...[...ips].map((ip) => ({ type: 7 as const, ip })),
          ],
        },
      ],
    },
  );
  return { cert: pems.cert, key: pems.private, selfSigned: true };
}
