// The secure port's gate without an apiserver: anonymous requests, client certificates against
// --client-ca-file, a front proxy against --requestheader-client-ca-file, always-allowed paths and
// groups, and an apiserver that does not answer. Real TLS on loopback; certificates are generated
// per run. Tokens and SubjectAccessReviews that succeed are in test/secure-port.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestConfig } from '../kube/kubeconfig.ts';
import { makeCa, makeClientCert, opensslCert, tamperSignature } from '../../test/harness/certs.ts';
import { delegationOptions, guardedPort } from '../../test/harness/delegation.ts';
import type { GuardedPort } from '../../test/harness/delegation.ts';
import { freePort } from '../../test/harness/ports.ts';
import { KubeClient } from '../kube/client.ts';
import type { Pem } from '../../test/harness/certs.ts';
import { Delegation } from './delegation.ts';
import type { DelegationOptions } from './delegation.ts';
import { selfSignedTls } from './tls.ts';
import type { TlsMaterial } from './tls.ts';

const base: DelegationOptions = delegationOptions();

let dir: string;
let tls: TlsMaterial;
let clientCa: Pem;
let proxyCa: Pem;
let otherCa: Pem;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-authn-'));
  tls = await selfSignedTls('127.0.0.1');
  [clientCa, proxyCa, otherCa] = await Promise.all([
    makeCa('client-ca'),
    makeCa('front-proxy-ca'),
    makeCa('other-ca'),
  ]);
  writeFileSync(join(dir, 'client-ca.crt'), clientCa.cert);
  writeFileSync(join(dir, 'front-proxy-ca.crt'), proxyCa.cert);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const serve = (options: Partial<DelegationOptions>): Promise<GuardedPort> =>
  guardedPort({ ...base, ...options }, tls);

const status = (body: string): { message: string; reason: string; code: number; kind: string } =>
  JSON.parse(body) as { message: string; reason: string; code: number; kind: string };

test('anonymous: health paths answer, /metrics and everything else is forbidden as upstream words it', async () => {
  const s = await serve({});
  try {
    assert.deepEqual(await s.get('/healthz'), { status: 200, body: 'ok' });
    assert.equal((await s.get('/livez')).status, 200);
    assert.equal((await s.get('/readyz?verbose')).status, 200);
    const metrics = await s.get('/metrics');
    assert.equal(metrics.status, 403);
    assert.deepEqual(status(metrics.body), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'forbidden: User "system:anonymous" cannot get path "/metrics"',
      reason: 'Forbidden',
      details: {},
      code: 403,
    });
    // The verb is the lower-case method; refused before the router (which would say 405).
    assert.match(
      status((await s.get('/metrics', { method: 'POST' })).body).message,
      /cannot post path "\/metrics"/,
    );
    assert.equal((await s.get('/nope')).status, 403);
    // Without a token authenticator a bearer token is not a credential: still anonymous.
    const withToken = await s.get('/metrics', { headers: { authorization: 'Bearer junk' } });
    assert.equal(withToken.status, 403);
  } finally {
    await s.close();
  }
});

test('one path for the gate and the router: dot segments cannot smuggle /metrics past an allowed prefix', async () => {
  const s = await serve({ alwaysAllowPaths: ['/healthz*'] });
  try {
    const raw = (path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: s.server.port, path, ca: tls.cert, servername: 'localhost' },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    assert.equal(await raw('/healthz'), 200);
    assert.equal(await raw('/healthz/../metrics'), 403);
    assert.equal(await raw('/healthz/%2e%2e/metrics'), 403);
  } finally {
    await s.close();
  }
});

test('--client-ca-file: CN is the user, O the groups; unknown, expired or server-only certificates get 401', async () => {
  const s = await serve({ clientCaFile: join(dir, 'client-ca.crt') });
  try {
    const admin = await makeClientCert(clientCa, 'alice', { organizations: ['system:masters'] });
    assert.equal((await s.get('/metrics', { cert: admin })).status, 200);
    assert.match((await s.get('/metrics', { cert: admin })).body, /^# HELP /m);

    const plain = await makeClientCert(clientCa, 'bob', { organizations: ['team-a'] });
    const bob = await s.get('/metrics', { cert: plain });
    assert.equal(bob.status, 403);
    assert.equal(status(bob.body).message, 'forbidden: User "bob" cannot get path "/metrics"');
    assert.equal((await s.get('/healthz', { cert: plain })).status, 200);

    // Through an intermediate CA the client sends along.
    const intermediate = await makeClientCert(clientCa, 'intermediate', { isCa: true });
    const leaf = await makeClientCert(intermediate, 'carol', { organizations: ['system:masters'] });
    const chained = { key: leaf.key, cert: `${leaf.cert.trimEnd()}\n${intermediate.cert}` };
    assert.equal((await s.get('/metrics', { cert: chained })).status, 200);

    const stranger = await makeClientCert(otherCa, 'mallory', {
      organizations: ['system:masters'],
    });
    const expired = await makeClientCert(clientCa, 'old', {
      organizations: ['system:masters'],
      notBefore: new Date(Date.now() - 3 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const serverOnly = await makeClientCert(clientCa, 'srv', {
      organizations: ['system:masters'],
      usage: 'serverAuth',
    });
    for (const [name, cert] of [
      ['other CA', stranger],
      ['expired', expired],
      ['serverAuth only', serverOnly],
    ] as const) {
      const res = await s.get('/metrics', { cert });
      assert.equal(res.status, 401, name);
      assert.equal(status(res.body).message, 'Unauthorized', name);
      // A failed credential is refused even where anonymous would pass, as upstream.
      assert.equal((await s.get('/healthz', { cert })).status, 401, name);
    }
  } finally {
    await s.close();
  }
});

test("bad chains are refused by the TLS layer (OpenSSL), as Go's x509.Verify refuses them; good ones pass", async () => {
  const masters = { organizations: ['system:masters'] };
  const DAY = 86_400_000;
  // Roots of the bundle: one that allows no intermediate CA below it, one with name constraints.
  const [noSubCa, constrainedCa] = [
    await makeCa('path-length-0-ca', { pathLenConstraint: 0 }),
    opensslCert('constrained-ca', [
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      'nameConstraints=critical,permitted;DNS:good.example',
    ]),
  ];
  // And an intermediate CA alone, without its root (see below).
  const loneIntermediate = await makeClientCert(otherCa, 'lone-intermediate', { isCa: true });
  writeFileSync(
    join(dir, 'corpus-ca.crt'),
    [clientCa.cert, noSubCa.cert, constrainedCa.cert, loneIntermediate.cert].join(''),
  );
  const leafExtensions = [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
    'subjectAltName=DNS:good.example',
  ];
  const chained = (leaf: Pem, ...issuers: Pem[]): Pem => ({
    key: leaf.key,
    cert: [leaf.cert, ...issuers.map((i) => i.cert)].map((c) => c.trimEnd()).join('\n') + '\n',
  });
  const notCa = await makeClientCert(clientCa, 'not-a-ca', masters);
  const subCa = await makeClientCert(noSubCa, 'sub-ca', { isCa: true });
  const subCaLeaf = await makeClientCert(subCa, 'too-deep', masters);
  const selfSigned = opensslCert('self', leafExtensions);
  const bad: Record<string, Pem> = {
    expired: await makeClientCert(clientCa, 'old', {
      ...masters,
      notBefore: new Date(Date.now() - 3 * DAY),
      notAfter: new Date(Date.now() - DAY),
    }),
    'not yet valid': await makeClientCert(clientCa, 'early', {
      ...masters,
      notBefore: new Date(Date.now() + DAY),
      notAfter: new Date(Date.now() + 3 * DAY),
    }),
    'issuer is not a CA (CA:false)': chained(
      await makeClientCert(notCa, 'under-a-leaf', masters),
      notCa,
    ),
    'path length exceeded': chained(subCaLeaf, subCa),
    'key usage without digitalSignature': await makeClientCert(clientCa, 'ku', {
      ...masters,
      encipherOnly: true,
    }),
    'extended key usage without clientAuth': await makeClientCert(clientCa, 'srv', {
      ...masters,
      usage: 'serverAuth',
    }),
    'unknown critical extension': opensslCert(
      'critical',
      [...leafExtensions, '1.3.6.1.4.1.99999.1=critical,ASN1:UTF8String:unknown'],
      clientCa,
    ),
    'bad signature': tamperSignature(await makeClientCert(clientCa, 'forged', masters)),
    'self-signed leaf': selfSigned,
    'unknown CA': await makeClientCert(otherCa, 'stranger', masters),
    'name constraints violated': opensslCert(
      'evil',
      [...leafExtensions.slice(0, 3), 'subjectAltName=DNS:evil.example'],
      constrainedCa,
    ),
  };
  const s = await serve({ clientCaFile: join(dir, 'corpus-ca.crt') });
  try {
    for (const [name, cert] of Object.entries(bad)) {
      const res = await s.get('/metrics', { cert });
      assert.equal(res.status, 401, name);
      assert.equal(status(res.body).message, 'Unauthorized', name);
    }
    // The same bundle accepts good chains: direct, through an intermediate the client sends,
    // and under the name constraints.
    const intermediate = await makeClientCert(clientCa, 'intermediate', { isCa: true });
    const good: Record<string, Pem> = {
      direct: await makeClientCert(clientCa, 'alice', masters),
      'through an intermediate': chained(
        await makeClientCert(intermediate, 'carol', masters),
        intermediate,
      ),
      'within the name constraints': opensslCert('good', leafExtensions, constrainedCa),
    };
    for (const [name, cert] of Object.entries(good)) {
      const res = await s.get('/metrics', { cert });
      // CN good is no master: authenticated, then forbidden, which proves the certificate passed.
      assert.equal(res.status, name === 'within the name constraints' ? 403 : 200, name);
    }
    // Where OpenSSL differs from Go: a CA of the bundle that is not self-signed is no anchor
    // (Node's allowPartialTrustChain does not reach the verification of client certificates).
    const underLone = await makeClientCert(loneIntermediate, 'dora', masters);
    assert.equal((await s.get('/metrics', { cert: underLone })).status, 401);
  } finally {
    await s.close();
  }
});

test('--requestheader-client-ca-file: an allowed front proxy names the user in headers; others are not believed', async () => {
  const s = await serve({
    requestHeader: {
      ...base.requestHeader,
      clientCaFile: join(dir, 'front-proxy-ca.crt'),
      allowedNames: ['front-proxy-client'],
    },
  });
  try {
    const proxy = await makeClientCert(proxyCa, 'front-proxy-client');
    const asMaster = { 'x-remote-user': 'dave', 'x-remote-group': 'system:masters' };
    assert.equal((await s.get('/metrics', { cert: proxy, headers: asMaster })).status, 200);
    const asUser = await s.get('/metrics', {
      cert: proxy,
      headers: { 'x-remote-user': 'erin', 'x-remote-group': 'team-b' },
    });
    assert.equal(status(asUser.body).message, 'forbidden: User "erin" cannot get path "/metrics"');
    // No user header: the proxy vouches for nobody, and the request is anonymous.
    const nobody = await s.get('/metrics', { cert: proxy });
    assert.match(status(nobody.body).message, /User "system:anonymous"/);

    // A proxy certificate with a name not on the list, or from another CA, is refused.
    const otherName = await makeClientCert(proxyCa, 'not-the-proxy');
    assert.equal((await s.get('/metrics', { cert: otherName, headers: asMaster })).status, 401);
    const otherCaProxy = await makeClientCert(otherCa, 'front-proxy-client');
    assert.equal((await s.get('/metrics', { cert: otherCaProxy, headers: asMaster })).status, 401);
    // Headers without a proxy certificate are just headers.
    const forged = await s.get('/metrics', { headers: asMaster });
    assert.match(status(forged.body).message, /User "system:anonymous"/);
  } finally {
    await s.close();
  }
  // Both bundles: the TLS layer trusts both, yet each certificate counts only for its own.
  const both = await serve({
    clientCaFile: join(dir, 'client-ca.crt'),
    requestHeader: { ...base.requestHeader, clientCaFile: join(dir, 'front-proxy-ca.crt') },
  });
  try {
    const user = await makeClientCert(clientCa, 'frank');
    const asMaster = { 'x-remote-user': 'dave', 'x-remote-group': 'system:masters' };
    const asUser = await both.get('/metrics', { cert: user, headers: asMaster });
    assert.equal(status(asUser.body).message, 'forbidden: User "frank" cannot get path "/metrics"');
    const proxy = await makeClientCert(proxyCa, 'front-proxy-client');
    assert.equal((await both.get('/metrics', { cert: proxy, headers: asMaster })).status, 200);
    const proxyAsUser = await makeClientCert(proxyCa, 'grace', {
      organizations: ['system:masters'],
    });
    // No user header: the proxy vouches for nobody, and the client CA never issued it: 401.
    assert.equal((await both.get('/metrics', { cert: proxyAsUser })).status, 401);
  } finally {
    await both.close();
  }
});

test('always-allow flags: groups can be cleared, paths can be prefixes or cleared', async () => {
  const admin = await makeClientCert(clientCa, 'alice', { organizations: ['system:masters'] });
  const noGroups = await serve({ clientCaFile: join(dir, 'client-ca.crt'), alwaysAllowGroups: [] });
  try {
    assert.equal((await noGroups.get('/metrics', { cert: admin })).status, 403);
  } finally {
    await noGroups.close();
  }
  const prefixed = await serve({ alwaysAllowPaths: ['/met*'] });
  try {
    assert.equal((await prefixed.get('/metrics')).status, 200);
    assert.equal((await prefixed.get('/healthz')).status, 403);
  } finally {
    await prefixed.close();
  }
  await assert.rejects(Delegation.start({ ...base, alwaysAllowPaths: ['/a*b'] }), /trailing \*/);
  await assert.rejects(
    Delegation.start({ ...base, clientCaFile: join(dir, 'missing.crt') }),
    /--client-ca-file: ENOENT/,
  );
});

test('apiserver unreachable: health paths still answer, tokens get 401 and /metrics a 500, after upstream retries', async () => {
  const kc: RestConfig = { server: `http://127.0.0.1:${await freePort()}`, token: 'x' };
  const down = new KubeClient(kc, { qps: 200, burst: 400 });
  const s = await serve({ authenticationClient: down, authorizationClient: down });
  try {
    assert.equal((await s.get('/healthz')).status, 200);
    assert.equal((await s.get('/readyz')).status, 200);
    const started = performance.now();
    const anonymous = await s.get('/metrics');
    const took = performance.now() - started;
    assert.equal(anonymous.status, 500);
    assert.match(status(anonymous.body).message, /^Internal error occurred: authorization failed/);
    // Five tries with 500 ms × 1.5 backoff between them: at least 0.5+0.75+1.125+1.6875 s.
    assert.ok(took >= 4_000, `retried for ${Math.round(took)} ms`);
    const token = await s.get('/healthz', { headers: { authorization: 'Bearer some-token' } });
    assert.equal(token.status, 401);
  } finally {
    await s.close();
  }
});
