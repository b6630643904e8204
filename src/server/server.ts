// The secure port: /healthz (and /livez), /readyz and /metrics, as upstream's controller-manager
// serves them. Health answers follow the apiserver healthz format: "ok", or one "[+]name ok" /
// "[-]name failed: reason" line per check with status 500 when any fails (and with ?verbose).
// Every request passes the guard first (delegated authentication and authorization, see
// delegation.ts), like upstream's filter chain; refusals are Kubernetes Status objects.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../log.ts';
import type { Refusal, RequestGuard } from './delegation.ts';
import type { TlsMaterial } from './tls.ts';
import { defaultTlsPolicy } from '../config/tls-policy.ts';
import type { TlsPolicy } from '../config/tls-policy.ts';

/** The part of a prom-client Registry that /metrics reads. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** A named check: undefined when healthy, else the reason (one line, no secrets). */
export type Check = () => string | undefined;

export interface ServerOptions {
  bindAddress: string;
  /** 0 picks a free port (tests); the caller decides whether to serve at all. */
  port: number;
  /** Undefined: plain HTTP (--metrics-plain-http). */
  tls?: TlsMaterial;
  /** --tls-min-version and --tls-cipher-suites; default upstream's (TLS 1.2, Go's suites). */
  tlsPolicy?: TlsPolicy;
  healthChecks: Record<string, Check>;
  readyChecks: Record<string, Check>;
  /** Authenticates and authorizes every request before it is routed. */
  guard: RequestGuard;
  /** What /metrics serves: the registry the composition root filled (src/metrics-registry.ts). */
  metrics: MetricsSource;
  log: Logger;
}

export interface RunningServer {
  /** e.g. https://127.0.0.1:10258 */
  url: string;
  port: number;
  close(): Promise<void>;
}

function checkResponse(
  res: ServerResponse,
  checks: Record<string, Check>,
  verbose: boolean,
  what: string,
): void {
  const lines: string[] = [];
  let failed = false;
  for (const [name, check] of Object.entries(checks)) {
    let reason: string | undefined;
    try {
      reason = check();
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    if (reason === undefined) lines.push(`[+]${name} ok`);
    else {
      failed = true;
      lines.push(`[-]${name} failed: ${reason}`);
    }
  }
  res.statusCode = failed ? 500 : 200;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('x-content-type-options', 'nosniff');
  if (!failed && !verbose) res.end('ok');
  else res.end(`${lines.join('\n')}\n${what} check ${failed ? 'failed' : 'passed'}\n`);
}

/** Upstream's responsewriters: a v1 Status, as kubectl and Prometheus users know it. */
function refuse(res: ServerResponse, refusal: Refusal): void {
  res.statusCode = refusal.code;
  if (refusal.closeConnection) res.setHeader('connection', 'close');
  res.setHeader('content-type', 'application/json');
  res.setHeader('x-content-type-options', 'nosniff');
  res.end(
    `${JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: refusal.message,
      reason: refusal.reason,
      details: {},
      code: refusal.code,
    })}\n`,
  );
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: ServerOptions,
): Promise<void> {
  // One parsed path for the guard and the router: "/healthz/../metrics" is "/metrics" to both.
  const url = new URL(req.url ?? '/', 'http://localhost');
  const refusal = await options.guard.check(req, url.pathname);
  if (refusal) {
    refuse(res, refusal);
    return;
  }
  const verbose = url.searchParams.has('verbose');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.statusCode = 405;
    res.setHeader('allow', 'GET, HEAD');
    res.end();
    return;
  }
  switch (url.pathname) {
    case '/healthz':
    case '/livez':
      checkResponse(res, options.healthChecks, verbose, url.pathname.slice(1));
      return;
    case '/readyz':
      checkResponse(res, { ...options.healthChecks, ...options.readyChecks }, verbose, 'readyz');
      return;
    case '/metrics': {
      const body = await options.metrics.metrics();
      res.setHeader('content-type', options.metrics.contentType);
      res.end(body);
      return;
    }
    default:
      res.statusCode = 404;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('404 page not found\n');
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res, options).catch((err: unknown) => {
      options.log.error({ err: String(err), path: req.url }, 'serving request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  };
  // Ask for a client certificate and let OpenSSL verify it against the guard's CA bundles, but
  // refuse nothing in the handshake: a request without a certificate, or with one that failed,
  // may still carry a token or be anonymous, and the guard judges it (upstream's
  // tls.RequestClientCert with per-authenticator verification).
  let server: Server;
  if (options.tls) {
    const { cert, key } = options.tls;
    const policy = options.tlsPolicy ?? defaultTlsPolicy();
    const certs = options.guard.clientCertificates;
    const context = (trust: Pick<SecureContextOptions, 'ca'>) => ({
      cert,
      key,
      ...policy,
      ...trust,
    });
    const https = createHttpsServer(
      {
        ...context(certs?.contextOptions() ?? { ca: [] }),
        requestCert: true,
        rejectUnauthorized: false,
      },
      listener,
    );
    certs?.attach(https, context);
    server = https;
  } else server = createHttpServer(listener);
  // Probes use short-lived connections; do not let idle keep-alives delay shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.bindAddress.includes(':') ? `[${options.bindAddress}]` : options.bindAddress;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${port}`;
  options.log.info(
    { url, selfSigned: options.tls?.selfSigned ?? false },
    'serving healthz, readyz and metrics',
  );
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
