// Client certificates on the secure port, verified by the platform: Node's TLS (OpenSSL) checks
// the chain a client sends against the CA bundles during the handshake (signatures, validity,
// basic constraints and path length, key usage and the clientAuth purpose, unknown critical
// extensions, name constraints), with `rejectUnauthorized: false` so that a request without a
// certificate, or with a refused one, still reaches the token authenticator and authorization,
// as upstream's `tls.RequestClientCert` does. What is left here is bookkeeping:
// - the bundles (--client-ca-file and --requestheader-client-ca-file, else the
//   extension-apiserver-authentication ConfigMap) go into the server's secure context, replaced
//   with setSecureContext when they change;
// - which bundle a verified chain ends in: the TLS layer trusts both, but a user's certificate
//   must not pass for a front proxy's, nor the reverse (upstream verifies each against its own).
//   Node reports the chain it can link from the leaf through the trusted store; it does not
//   report intermediates a client sent once the chain verified, so a chain through such
//   intermediates is told apart only while one bundle is configured (or both are the same).
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Server } from 'node:https';
import { TLSSocket } from 'node:tls';
import type { DetailedPeerCertificate, SecureContextOptions } from 'node:tls';

export type Bundle = 'clientCa' | 'requestHeader';

/** A client's certificate as the authenticators see it. */
export interface PeerCertificate {
  leaf: X509Certificate;
  /** Undefined when the TLS layer verified the chain and it ends in `bundle`; else why not. */
  untrusted(bundle: Bundle): string | undefined;
  /** Verified against bundles that have changed since: a refusal should close the connection. */
  stale: boolean;
}

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

/** What one connection's handshake established. */
interface Handshake {
  leaf: X509Certificate;
  /** OpenSSL's verdict (e.g. CERT_HAS_EXPIRED); undefined when the chain verified. */
  verifyError: string | undefined;
  /** SHA-256 fingerprints of the leaf and of each issuer Node links it to. */
  chain: string[];
  /** The bundles' generation the connection's secure context had; undefined if unknown. */
  generation: number | undefined;
}

const OTHER: Readonly<Record<Bundle, Bundle>> = {
  clientCa: 'requestHeader',
  requestHeader: 'clientCa',
};

export class ClientCertificates {
  private certs: Record<Bundle, readonly X509Certificate[]> = { clientCa: [], requestHeader: [] };
  private fingerprints: Record<Bundle, ReadonlySet<string>> = {
    clientCa: new Set(),
    requestHeader: new Set(),
  };
  /** Bumped with every change of either bundle, together with the secure context. */
  private generation = 0;
  private readonly listeners: (() => void)[] = [];
  private readonly connectedAt = new WeakMap<Socket, number>();
  private readonly handshakes = new WeakMap<TLSSocket, Handshake | undefined>();

  /** Replaces one bundle (empty: none); the server's secure context follows at once. */
  set(bundle: Bundle, certs: readonly X509Certificate[]): void {
    const next = new Set(certs.map((c) => c.fingerprint256));
    const now = this.fingerprints[bundle];
    if (next.size === now.size && [...next].every((f) => now.has(f))) return;
    this.certs = { ...this.certs, [bundle]: certs };
    this.fingerprints = { ...this.fingerprints, [bundle]: next };
    this.generation++;
    for (const listener of this.listeners) listener();
  }

  configured(bundle: Bundle): boolean {
    return this.fingerprints[bundle].size > 0;
  }

  /**
   * The trust part of the secure context: every CA of both bundles. `ca` is always given, so an
   * empty list trusts nothing (without it Node would trust its public root CAs). Unlike Go's
   * x509.Verify, a CA of a bundle that is not self-signed is no anchor: OpenSSL wants the chain
   * to end in a root of the bundle (Node's allowPartialTrustChain does not reach the
   * verification of client certificates).
   */
  contextOptions(): Pick<SecureContextOptions, 'ca'> {
    return { ca: [...this.certs.clientCa, ...this.certs.requestHeader].map((c) => c.toString()) };
  }

  /**
   * Keeps `server`'s secure context on the current bundles (`context` adds the rest: certificate,
   * key, TLS policy) and remembers which bundles each connection was verified against.
   */
  attach(
    server: Server,
    context: (trust: Pick<SecureContextOptions, 'ca'>) => SecureContextOptions,
  ): void {
    // The TLS socket of this connection was created a moment ago, in this same event, with the
    // secure context of this generation.
    server.on('connection', (raw: Socket) => this.connectedAt.set(raw, this.generation));
    this.listeners.push(() => {
      server.setSecureContext(context(this.contextOptions()));
      // Idle keep-alive connections were verified against the old bundles: let clients reconnect.
      server.closeIdleConnections();
    });
  }

  /** The certificate a request's connection presented; undefined without TLS or certificate. */
  peer(socket: Socket): PeerCertificate | undefined {
    if (!(socket instanceof TLSSocket)) return undefined;
    let handshake = this.handshakes.get(socket);
    if (!this.handshakes.has(socket)) {
      handshake = this.read(socket);
      this.handshakes.set(socket, handshake);
    }
    if (!handshake) return undefined;
    const h = handshake;
    return {
      leaf: h.leaf,
      untrusted: (bundle) => this.untrusted(h, bundle),
      stale: h.generation !== this.generation,
    };
  }

  private read(socket: TLSSocket): Handshake | undefined {
    const first = socket.getPeerCertificate(true) as DetailedPeerCertificate | null;
    if (!first?.raw) return undefined;
    const chain: string[] = [];
    let next: DetailedPeerCertificate | undefined = first;
    while (next?.raw && !chain.includes(next.fingerprint256) && chain.length < 16) {
      chain.push(next.fingerprint256);
      next = next.issuerCertificate;
    }
    // Node's TLSSocket keeps the connection's TCP socket as _parent (see attach).
    const raw = (socket as unknown as { _parent?: unknown })._parent;
    const generation =
      raw !== null && typeof raw === 'object' ? this.connectedAt.get(raw as Socket) : undefined;
    return {
      leaf: new X509Certificate(first.raw),
      verifyError: socket.authorized ? undefined : String(socket.authorizationError),
      chain,
      generation,
    };
  }

  private untrusted(h: Handshake, bundle: Bundle): string | undefined {
    if (h.verifyError !== undefined) return `certificate verification failed: ${h.verifyError}`;
    const mine = this.fingerprints[bundle];
    const other = this.fingerprints[OTHER[bundle]];
    // A CA of the bundle on the chain Node linked (through the trust store, as it was then) that
    // is still in the bundle: the chain ends there, whenever it was verified.
    if (h.chain.some((f) => mine.has(f))) return undefined;
    if (h.chain.some((f) => other.has(f))) return 'certificate signed by unknown authority';
    // The chain went through intermediates the client sent, which Node does not report.
    if (h.generation !== this.generation)
      return 'the client CA bundles changed since this connection was verified; reconnect';
    if (mine.size > 0 && (other.size === 0 || sameSet(mine, other))) return undefined;
    return 'certificate chain runs through intermediate CAs, and with different client and request-header CA bundles the bundle it ends in cannot be told';
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
