// Which bundle a verified client certificate counts for, and what a connection verified against
// bundles that changed since is worth. Real TLS on loopback: the server's secure context comes from
// ClientCertificates, as startServer builds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent, fetch } from 'undici';
import { makeCa, makeClientCert } from '../../test/harness/certs.ts';
import type { Pem } from '../../test/harness/certs.ts';
import { ClientCertificates } from './client-certs.ts';
import type { Bundle } from './client-certs.ts';
import { selfSignedTls } from './tls.ts';

const x509 = (pem: Pem): X509Certificate => new X509Certificate(pem.cert);

/**
 * A server whose handler reports the verdict per bundle; `hold` keeps a request in flight (its
 * connection busy, so not closed as idle) until released.
 */
async function verdictServer(certs: ClientCertificates) {
  const tls = await selfSignedTls('127.0.0.1');
  let hold: Promise<void> | undefined;
  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      ...certs.contextOptions(),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      void (async () => {
        if (req.url === '/hold') await hold;
        const peer = certs.peer(req.socket);
        const verdict = (bundle: Bundle): string => peer?.untrusted(bundle) ?? 'trusted';
        res.end(
          JSON.stringify({
            clientCa: verdict('clientCa'),
            requestHeader: verdict('requestHeader'),
            stale: peer?.stale ?? false,
          }),
        );
      })();
    },
  );
  certs.attach(server, (trust) => ({ cert: tls.cert, key: tls.key, ...trust }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agents: Agent[] = [];
  return {
    agent(cert: Pem): Agent {
      const agent = new Agent({ connect: { ca: tls.cert, servername: 'localhost', ...cert } });
      agents.push(agent);
      return agent;
    },
    async get(agent: Agent, path = '/'): Promise<Record<string, unknown>> {
      const res = await fetch(url + path, { dispatcher: agent });
      return (await res.json()) as Record<string, unknown>;
    },
    holdNext(): () => void {
      let release = (): void => undefined;
      hold = new Promise((resolve) => (release = resolve));
      return release;
    },
    async close(): Promise<void> {
      await Promise.all(agents.map((a) => a.close()));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('each bundle vouches for its own chains; unknown anchors only while one bundle is configured', async () => {
  const [clientCa, proxyCa] = await Promise.all([makeCa('client-ca'), makeCa('proxy-ca')]);
  const certs = new ClientCertificates();
  certs.set('clientCa', [x509(clientCa)]);
  const s = await verdictServer(certs);
  try {
    const alice = s.agent(await makeClientCert(clientCa, 'alice'));
    assert.deepEqual(await s.get(alice), {
      clientCa: 'trusted',
      // (No request-header bundle: its authenticator never asks.)
      requestHeader: 'certificate signed by unknown authority',
      stale: false,
    });
    const intermediate = await makeClientCert(clientCa, 'intermediate', { isCa: true });
    const carol = await makeClientCert(intermediate, 'carol');
    const chained = s.agent({
      key: carol.key,
      cert: `${carol.cert.trimEnd()}\n${intermediate.cert}`,
    });
    // Only one bundle: a chain through intermediates Node does not report can only end there.
    assert.equal((await s.get(chained)).clientCa, 'trusted');

    certs.set('requestHeader', [x509(proxyCa)]);
    const proxy = s.agent(await makeClientCert(proxyCa, 'front-proxy'));
    assert.deepEqual(await s.get(proxy), {
      clientCa: 'certificate signed by unknown authority',
      requestHeader: 'trusted',
      stale: false,
    });
    const alice2 = s.agent(await makeClientCert(clientCa, 'alice'));
    assert.deepEqual(await s.get(alice2), {
      clientCa: 'trusted',
      requestHeader: 'certificate signed by unknown authority',
      stale: false,
    });
    // Two different bundles: the chain's end cannot be told, so neither vouches for it.
    const chained2 = s.agent({
      key: carol.key,
      cert: `${carol.cert.trimEnd()}\n${intermediate.cert}`,
    });
    assert.match(String((await s.get(chained2)).clientCa), /cannot be told/);
    const stranger = s.agent(await makeClientCert(await makeCa('other'), 'mallory'));
    assert.match(String((await s.get(stranger)).clientCa), /^certificate verification failed: /);
  } finally {
    await s.close();
  }
});

test('a connection verified before its CA left the bundle is not trusted on, and is marked stale', async () => {
  const clientCa = await makeCa('client-ca');
  const certs = new ClientCertificates();
  certs.set('clientCa', [x509(clientCa)]);
  const s = await verdictServer(certs);
  try {
    const intermediate = await makeClientCert(clientCa, 'intermediate', { isCa: true });
    const carol = await makeClientCert(intermediate, 'carol');
    const direct = s.agent(await makeClientCert(clientCa, 'alice'));
    const chained = s.agent({
      key: carol.key,
      cert: `${carol.cert.trimEnd()}\n${intermediate.cert}`,
    });
    assert.equal((await s.get(direct)).clientCa, 'trusted');
    assert.equal((await s.get(chained)).clientCa, 'trusted');
    // Both connections busy while the CA is replaced by another.
    const release = s.holdNext();
    const pending = [s.get(direct, '/hold'), s.get(chained, '/hold')];
    await new Promise((resolve) => setTimeout(resolve, 200));
    certs.set('clientCa', [x509(await makeCa('new-client-ca'))]);
    release();
    const [afterDirect, afterChained] = await Promise.all(pending);
    assert.deepEqual(afterDirect, {
      clientCa: 'the client CA bundles changed since this connection was verified; reconnect',
      requestHeader: 'the client CA bundles changed since this connection was verified; reconnect',
      stale: true,
    });
    assert.equal(afterChained?.['stale'], true);
    assert.match(String(afterChained?.['clientCa']), /changed since this connection was verified/);
  } finally {
    await s.close();
  }
});
