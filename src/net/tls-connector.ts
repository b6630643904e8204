// The TLS connector of our HTTP clients (Kubernetes, Oxide): undici's, with the refusal of a
// server certificate naming that certificate. Node's own refusal says only "unable to verify the
// first certificate" or "self-signed certificate in certificate chain", which does not tell an
// operator whether the client reached the wrong server or trusts the wrong CA.
//
// The verification stays Node's: the handshake runs with `rejectUnauthorized: false` so that the
// socket is still there to describe, and a connection is handed to the client only when Node set
// `authorized` (chain verified against the CAs, and the host name checked against the
// certificate, exactly as with `rejectUnauthorized: true`); anything else is destroyed before a
// byte of the request is written.
import { TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';

/** A refused server certificate: Node's verification code, and whose certificate it was. */
export class ServerCertificateError extends Error {
  override readonly name = 'ServerCertificateError';
  readonly code: string;

  constructor(code: string, peer: string) {
    super(`server certificate not trusted (${code}): ${peer}`);
    this.code = code;
  }
}

/** Who the certificate says it is, who issued it, and for which names. */
function describePeer(socket: TLSSocket): string {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return 'no certificate';
  const name = (dn: string): string => dn.split('\n').join(', ');
  const parts = [`subject ${name(cert.subject)}`, `issuer ${name(cert.issuer)}`];
  if (cert.subjectAltName) parts.push(`names ${cert.subjectAltName}`);
  parts.push(`valid ${cert.validFrom} to ${cert.validTo}`);
  return parts.join('; ');
}

/** undici's connector for these TLS options, refusing as Node would, but with the certificate named. */
export function describingConnector(
  options: buildConnector.BuildOptions,
): buildConnector.connector {
  // Verification switched off on purpose: nothing to add, nothing to refuse.
  if ('rejectUnauthorized' in options && options.rejectUnauthorized === false)
    return buildConnector(options);
  const connect = buildConnector({ ...options, rejectUnauthorized: false });
  return (opts, callback) => {
    connect(opts, (...args) => {
      const [err, socket] = args;
      if (err !== null || !(socket instanceof TLSSocket) || socket.authorized) {
        callback(...args);
        return;
      }
      const error = new ServerCertificateError(
        String(socket.authorizationError),
        describePeer(socket),
      );
      socket.destroy();
      callback(error, null);
    });
  };
}
