import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { Agent, fetch } from 'undici';
import { silentLogger } from '../log.ts';
import { Counter, Registry } from 'prom-client';
import { registerProcessMetrics } from '../process-metrics.ts';
import { delegationOptions } from '../../test/harness/delegation.ts';
import { Delegation } from './delegation.ts';
import type { DelegationOptions } from './delegation.ts';
import { startServer } from './server.ts';
import type { ServerOptions } from './server.ts';
import { readTlsFiles, selfSignedTls } from './tls.ts';
import { tlsPolicy } from '../config/tls-policy.ts';

/** The gate without an apiserver: only always-allowed paths and groups, no lookup. */
const offlineDelegation: DelegationOptions = delegationOptions();

// These tests are about the endpoints: every path is always allowed (as an operator can do with
// --authorization-always-allow-paths=/*). The gate itself is tested in delegation.test.ts.
const guard = await Delegation.start({ ...offlineDelegation, alwaysAllowPaths: ['/*'] });

/** What /metrics serves here: one family of ours and the process's, as the CCM's registry has. */
const registry = new Registry();
const reconciles = new Counter({
  name: 'oxide_ccm_reconcile_total',
  help: 'Reconciles by controller and result (success, error)',
  labelNames: ['controller', 'result'],
  registers: [registry],
});
registerProcessMetrics(registry);

/** A server on a free loopback port, plain HTTP and no checks unless `options` say otherwise. */
const serve = (options: Partial<ServerOptions> = {}): ReturnType<typeof startServer> =>
  startServer({
    bindAddress: '127.0.0.1',
    port: 0,
    healthChecks: {},
    readyChecks: {},
    guard,
    metrics: registry,
    log: silentLogger,
    ...options,
  });

test('plain HTTP: healthz, readyz (verbose and failing), metrics, 404, 405', async () => {
  let synced = false;
  const server = await serve({
    healthChecks: { ping: () => undefined },
    readyChecks: { informerSync: () => (synced ? undefined : 'caches not synced yet') },
  });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const get = async (path: string, init?: { method: string }) => {
      const res = await fetch(server.url + path, init);
      return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
    };
    assert.deepEqual(await get('/healthz'), {
      status: 200,
      body: 'ok',
      type: 'text/plain; charset=utf-8',
    });
    assert.equal((await get('/livez')).body, 'ok');
    const notReady = await get('/readyz');
    assert.equal(notReady.status, 500);
    assert.equal(
      notReady.body,
      '[+]ping ok\n[-]informerSync failed: caches not synced yet\nreadyz check failed\n',
    );
    synced = true;
    assert.deepEqual(await get('/readyz'), {
      status: 200,
      body: 'ok',
      type: 'text/plain; charset=utf-8',
    });
    assert.equal(
      (await get('/readyz?verbose')).body,
      '[+]ping ok\n[+]informerSync ok\nreadyz check passed\n',
    );

    reconciles.inc({ controller: 'server-test', result: 'success' });
    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(
      metrics.body,
      /oxide_ccm_reconcile_total\{controller="server-test",result="success"\} 1/,
    );
    assert.match(metrics.body, /^process_cpu_seconds_total /m, 'Node default metrics');
    assert.match(metrics.body, /^nodejs_eventloop_lag_seconds /m);

    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/healthz', { method: 'POST' })).status, 405);
  } finally {
    await server.close();
  }
});

test('HTTPS with a generated self-signed certificate', async () => {
  const tls = await selfSignedTls('127.0.0.1');
  const cert = new X509Certificate(tls.cert);
  assert.match(cert.subjectAltName ?? '', /DNS:localhost/);
  assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(tls.key)));
  const server = await serve({ tls });
  try {
    assert.match(server.url, /^https:/);
    // Untrusted by default, as upstream's self-signed serving certificate is.
    await assert.rejects(fetch(`${server.url}/healthz`));
    // Trusted when the client pins it.
    const pinned = new Agent({ connect: { ca: tls.cert, servername: 'localhost' } });
    const res = await fetch(`${server.url}/healthz`, { dispatcher: pinned });
    assert.equal(await res.text(), 'ok');
    const metrics = await fetch(`${server.url}/metrics`, { dispatcher: pinned });
    assert.equal(metrics.status, 200);
    await pinned.close();
  } finally {
    await server.close();
  }
});

test('HTTPS with --tls-cert-file / --tls-private-key-file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-tls-'));
  try {
    const made = await selfSignedTls('127.0.0.1');
    writeFileSync(join(dir, 'tls.crt'), made.cert);
    writeFileSync(join(dir, 'tls.key'), made.key);
    const tls = readTlsFiles(join(dir, 'tls.crt'), join(dir, 'tls.key'));
    assert.equal(tls.selfSigned, false);
    const server = await serve({ tls });
    try {
      const agent = new Agent({ connect: { ca: made.cert, servername: 'localhost' } });
      const res = await fetch(`${server.url}/readyz`, { dispatcher: agent });
      assert.equal(res.status, 200);
      await agent.close();
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A TLS handshake with Node's client: the protocol and cipher agreed, or the failure. */
function handshake(
  port: number,
  ca: string,
  options: { maxVersion?: SecureVersion; ciphers?: string },
): Promise<{ protocol: string | null; cipher: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().standardName });
      socket.end();
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ error: err.code ?? err.message }),
    );
  });
}

test('--tls-min-version and --tls-cipher-suites: a TLS 1.2 client or a suite outside the list is refused', async () => {
  const tls = await selfSignedTls('127.0.0.1');
  const refused = (r: Awaited<ReturnType<typeof handshake>>): boolean => 'error' in r;
  // Upstream's defaults: TLS 1.2 and up, Go's default suites (no CBC-SHA256, no RSA key exchange).
  const defaults = await serve({ tls });
  try {
    assert.deepEqual(await handshake(defaults.port, tls.cert, { maxVersion: 'TLSv1.2' }), {
      protocol: 'TLSv1.2',
      cipher: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    });
    const latest = await handshake(defaults.port, tls.cert, {});
    assert.equal('protocol' in latest && latest.protocol, 'TLSv1.3');
    const cbc256 = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' } as const;
    assert.ok(refused(await handshake(defaults.port, tls.cert, cbc256)), 'not a Go default');
    const tls11 = { maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
    assert.ok(refused(await handshake(defaults.port, tls.cert, tls11)), 'TLS 1.1');
  } finally {
    await defaults.close();
  }

  // Go's insecure suites are accepted with upstream's warning (secure-port.ts logs it).
  assert.deepEqual(tlsPolicy('', ['TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256']).warnings, [
    "Use of insecure cipher 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256' detected.",
  ]);
  const only13 = tlsPolicy('VersionTLS13', []).policy;
  assert.ok(only13);
  const tls13 = await serve({ tls, tlsPolicy: only13 });
  try {
    assert.ok(refused(await handshake(tls13.port, tls.cert, { maxVersion: 'TLSv1.2' })));
    const ok = await handshake(tls13.port, tls.cert, {});
    assert.equal('protocol' in ok && ok.protocol, 'TLSv1.3');
  } finally {
    await tls13.close();
  }

  const listed = tlsPolicy('', ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384']).policy;
  assert.ok(listed);
  const one = await serve({ tls, tlsPolicy: listed });
  try {
    const outside = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' } as const;
    assert.ok(refused(await handshake(one.port, tls.cert, outside)));
    assert.deepEqual(await handshake(one.port, tls.cert, { maxVersion: 'TLSv1.2' }), {
      protocol: 'TLSv1.2',
      cipher: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
    });
  } finally {
    await one.close();
  }
});

test('a port in use is an error, not a hang', async () => {
  const first = await serve();
  try {
    await assert.rejects(serve({ port: first.port }), /EADDRINUSE/);
  } finally {
    await first.close();
  }
});
