// The secure port against the real kube-apiserver: tokens checked with TokenReview,
// SubjectAccessReview for /metrics, client certificates signed by the CAs the apiserver publishes
// in kube-system/extension-apiserver-authentication, and the review caches counted. The gate runs
// as the CCM's own ServiceAccount with the committed manifest's RBAC, so the grants are proven
// sufficient, not just the code.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestConfig } from '../src/kube/kubeconfig.ts';
import { Agent, fetch } from 'undici';
import { delegationOptions, guardedPort } from './harness/delegation.ts';
import type { GuardedPort } from './harness/delegation.ts';
import { KubeClient } from '../src/kube/client.ts';
import type { RequestOptions } from '../src/kube/client.ts';
import { Delegation } from '../src/server/delegation.ts';
import type { DelegationOptions } from '../src/server/delegation.ts';
import { selfSignedTls } from '../src/server/tls.ts';
import type { TlsMaterial } from '../src/server/tls.ts';
import { controlPlaneCas, makeCa, makeClientCert } from './harness/certs.ts';
import { startSimulator } from '../sim/server.ts';
import { waitFor } from './harness/context.ts';
import { testKube, uniqueName } from './harness/kube.ts';
import { freePort } from './harness/ports.ts';
import { spawnCcm } from './harness/ccm-child.ts';
import { MANIFEST_PATH, applyManifest, parseManifest } from './harness/delivery.ts';

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';
const ACCESS_REVIEWS = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/** A real client that counts the reviews it sends: the number the caches must keep low. */
class CountingClient extends KubeClient {
  readonly posts = new Map<string, number>();

  override post<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    this.posts.set(path, (this.posts.get(path) ?? 0) + 1);
    return super.post<T>(path, body, options);
  }

  counts(): { tokenReviews: number; accessReviews: number } {
    return {
      tokenReviews: this.posts.get(TOKEN_REVIEWS) ?? 0,
      accessReviews: this.posts.get(ACCESS_REVIEWS) ?? 0,
    };
  }
}

let admin: KubeClient;
let kubeconfig: string;
let tls: TlsMaterial;
const suffix = uniqueName('sp');
const reader = `${suffix}-metrics-reader`;

function clientWithToken(token: string): CountingClient {
  const server = admin.config.server;
  const kc: RestConfig = { server, insecureSkipTLSVerify: true, token };
  return new CountingClient(kc, { qps: 200, burst: 400 });
}

async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const res = await admin.post<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
  );
  return res.status.token;
}

async function createServiceAccount(name: string): Promise<string> {
  await admin.post('/api/v1/namespaces/default/serviceaccounts', {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name },
  });
  return serviceAccountToken('default', name);
}

/** What the docs tell operators to create for Prometheus: get on the /metrics URL. */
async function grantMetrics(subjects: { kind: string; name: string; namespace?: string }[]) {
  await admin.post('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: reader },
    rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
  });
  await admin.post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: reader },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: reader },
    subjects: subjects.map((s) =>
      s.kind === 'User' ? { ...s, apiGroup: 'rbac.authorization.k8s.io' } : s,
    ),
  });
}

const defaults = (client: KubeClient): DelegationOptions => delegationOptions(client);

type Port = GuardedPort;

const securePort = (options: DelegationOptions): Promise<Port> => guardedPort(options, tls);

const message = (body: string): string => (JSON.parse(body) as { message: string }).message;

let ccm: CountingClient;
let port: Port;

before(async () => {
  ({ client: admin, kubeconfig } = await testKube());
  tls = await selfSignedTls('127.0.0.1');
  await applyManifest(kubeconfig);
  // The gate's client is the CCM's ServiceAccount, with nothing but the manifest's RBAC.
  const deployment = parseManifest(readFileSync(MANIFEST_PATH, 'utf8')).find(
    (o) => o.kind === 'Deployment',
  ) as unknown as {
    metadata: { namespace: string };
    spec: { template: { spec: { serviceAccountName: string } } };
  };
  ccm = clientWithToken(
    await serviceAccountToken(
      deployment.metadata.namespace,
      deployment.spec.template.spec.serviceAccountName,
    ),
  );
  port = await securePort(defaults(ccm));
});

after(async () => {
  await port.close();
  for (const kind of ['clusterrolebindings', 'clusterroles'])
    await admin
      .delete(`/apis/rbac.authorization.k8s.io/v1/${kind}/${reader}`)
      .catch(() => undefined);
});

test('no credentials: health paths answer (kubelet probes), /metrics is forbidden to system:anonymous', async () => {
  assert.deepEqual(await port.get('/healthz'), { status: 200, body: 'ok' });
  assert.equal((await port.get('/readyz')).status, 200);
  assert.equal((await port.get('/livez')).status, 200);
  const metrics = await port.get('/metrics');
  assert.equal(metrics.status, 403);
  assert.equal(
    message(metrics.body),
    'forbidden: User "system:anonymous" cannot get path "/metrics"',
  );
});

test('a junk or revoked token is 401, on /metrics and on the health paths alike', async () => {
  for (const path of ['/metrics', '/healthz']) {
    const res = await port.get(path, { token: 'junk-token' });
    assert.equal(res.status, 401, path);
    assert.equal(message(res.body), 'Unauthorized');
  }
  // A token of a ServiceAccount that no longer exists is rejected by the TokenReview.
  const gone = uniqueName('gone');
  const token = await createServiceAccount(gone);
  await admin.delete(`/api/v1/namespaces/default/serviceaccounts/${gone}`);
  assert.equal((await port.get('/metrics', { token })).status, 401);
});

test('a ServiceAccount token: 403 without RBAC, 200 once a ClusterRole grants get /metrics (within the deny TTL)', async () => {
  const prom = uniqueName('prometheus');
  const token = await createServiceAccount(prom);
  const user = `system:serviceaccount:default:${prom}`;
  const denied = await port.get('/metrics', { token });
  const deniedAt = performance.now();
  assert.equal(denied.status, 403);
  assert.equal(message(denied.body), `forbidden: User "${user}" cannot get path "/metrics"`);

  const before = ccm.counts();
  await grantMetrics([
    { kind: 'ServiceAccount', name: prom, namespace: 'default' },
    { kind: 'User', name: `${suffix}-cert-reader` },
  ]);
  // The denial is cached for --authorization-webhook-cache-unauthorized-ttl (10 s), as upstream.
  const again = await port.get('/metrics', { token });
  if (performance.now() - deniedAt < 9_000) {
    assert.equal(again.status, 403, 'served from the deny cache');
    assert.deepEqual(ccm.counts(), before, 'no new review while cached');
  }
  const granted = await waitFor(
    'the grant to take effect',
    async () => {
      const res = await port.get('/metrics', { token });
      return res.status === 200 ? res : undefined;
    },
    30_000,
    250,
  );
  const tookMs = performance.now() - deniedAt;
  console.log(`403 → 200 after the grant: ${Math.round(tookMs)} ms (deny TTL 10 s)`);
  assert.match(granted.body, /^apiserver_delegated_authz_request_total\{code="201"\} \d+/m);
  assert.match(granted.body, /^authentication_token_cache_request_total\{status="hit"\} \d+/m);
});

test('caching: twenty scrapes with one token cost one TokenReview and one SubjectAccessReview', async () => {
  const scraper = uniqueName('scraper');
  const token = await createServiceAccount(scraper);
  await admin.post(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `${reader}-${scraper}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: reader },
    subjects: [{ kind: 'ServiceAccount', name: scraper, namespace: 'default' }],
  });
  try {
    // The reader ClusterRole may not exist yet if this test runs alone: wait for the first 200.
    await waitFor('ClusterRole from the previous test', async () => {
      const exists = await admin
        .get(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${reader}`)
        .then(() => true)
        .catch(() => false);
      return exists;
    });
    const before = ccm.counts();
    const first = await port.get('/metrics', { token });
    assert.equal(first.status, 200);
    // Ten at once (single flight) and ten one after another (cache).
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => port.get('/metrics', { token })),
    );
    for (let i = 0; i < 9; i++) burst.push(await port.get('/metrics', { token }));
    assert.deepEqual(
      burst.map((r) => r.status),
      Array.from({ length: 19 }, () => 200),
    );
    const after = ccm.counts();
    const used = {
      tokenReviews: after.tokenReviews - before.tokenReviews,
      accessReviews: after.accessReviews - before.accessReviews,
    };
    console.log(`20 scrapes with one token: ${JSON.stringify(used)}`);
    assert.deepEqual(used, { tokenReviews: 1, accessReviews: 1 });

    // system:masters needs no SubjectAccessReview at all; anonymous health checks need nothing.
    const adminToken = admin.config.token ?? '';
    const mid = ccm.counts();
    for (let i = 0; i < 5; i++) {
      assert.equal((await port.get('/metrics', { token: adminToken })).status, 200);
      assert.equal((await port.get('/healthz')).status, 200);
    }
    assert.deepEqual(ccm.counts(), { ...mid, tokenReviews: mid.tokenReviews + 1 });
  } finally {
    await admin
      .delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${reader}-${scraper}`)
      .catch(() => undefined);
  }
});

test('client certificates signed by the client CA the apiserver publishes (no --client-ca-file)', async () => {
  const cas = controlPlaneCas(kubeconfig);
  const master = await makeClientCert(cas.client, `${suffix}-admin`, {
    organizations: ['system:masters'],
  });
  const before = ccm.counts();
  assert.equal((await port.get('/metrics', { cert: master })).status, 200);
  assert.deepEqual(ccm.counts(), before, 'a certificate needs no TokenReview');

  const plain = await makeClientCert(cas.client, `${suffix}-nobody`);
  const res = await port.get('/metrics', { cert: plain });
  assert.equal(res.status, 403);
  assert.match(message(res.body), new RegExp(`User "${suffix}-nobody" cannot get path`));
  // Bound by name in the ClusterRoleBinding of the ServiceAccount test (User ...-cert-reader).
  const certReader = await makeClientCert(cas.client, `${suffix}-cert-reader`);
  await waitFor('the cert-reader binding', async () =>
    admin
      .get(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${reader}`)
      .then(() => true)
      .catch(() => false),
  );
  assert.equal((await port.get('/metrics', { cert: certReader })).status, 200);

  // The front proxy's CA and allowed name come from the ConfigMap as well.
  const proxy = await makeClientCert(cas.frontProxy, 'front-proxy-client');
  const viaProxy = await port.get('/metrics', {
    cert: proxy,
    headers: { 'X-Remote-User': `${suffix}-proxied`, 'X-Remote-Group': 'system:masters' },
  });
  assert.equal(viaProxy.status, 200);
  const notTheProxy = await makeClientCert(cas.frontProxy, 'someone-else');
  const refused = await port.get('/metrics', {
    cert: notTheProxy,
    headers: { 'X-Remote-User': 'mallory', 'X-Remote-Group': 'system:masters' },
  });
  assert.equal(refused.status, 401);
  // A client certificate from the front-proxy CA is not a user certificate.
  const wrongCa = await makeClientCert(cas.frontProxy, `${suffix}-admin`, {
    organizations: ['system:masters'],
  });
  assert.equal((await port.get('/metrics', { cert: wrongCa })).status, 401);
});

test('the ConfigMap lookup: refused without the reader RoleBinding, unless tolerated', async () => {
  const outsider = clientWithToken(await createServiceAccount(uniqueName('no-rbac')));
  await assert.rejects(
    Delegation.start(defaults(outsider)),
    /configmap\/extension-apiserver-authentication in kube-system.*forbidden.*--role=extension-apiserver-authentication-reader/s,
  );
  const tolerant = await Delegation.start({ ...defaults(outsider), tolerateLookupFailure: true });
  await tolerant.close();
  const skipped = await Delegation.start({ ...defaults(outsider), skipLookup: true });
  await skipped.close();
});

test('a CA added to the published ConfigMap is trusted without a restart (the gate watches it)', async () => {
  const extra = await makeCa(`${suffix}-rotated-ca`);
  const cert = await makeClientCert(extra, `${suffix}-rotated`, {
    organizations: ['system:masters'],
  });
  assert.equal((await port.get('/metrics', { cert })).status, 401);
  // As a CA rotation does: the new CA is appended (the apiserver keeps what it finds there).
  const path = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
  const cm = await admin.get<{ data: Record<string, string> }>(path);
  const bundle = `${(cm.data['client-ca-file'] ?? '').trimEnd()}\n${extra.cert}`;
  await admin.patch(path, 'merge', { data: { 'client-ca-file': bundle } });
  await waitFor('the added CA to be trusted', async () => {
    const res = await port.get('/metrics', { cert });
    return res.status === 200;
  });
  // A client keeps its connection open across the rotation that removes the CA again.
  const kept = new Agent({
    connect: { ca: tls.cert, servername: 'localhost', ...cert },
    pipelining: 0,
    keepAliveTimeout: 60_000,
  });
  try {
    assert.equal((await port.get('/metrics', { agent: kept })).status, 200);
    await admin.patch(path, 'merge', { data: { 'client-ca-file': cm.data['client-ca-file'] } });
    await waitFor('the removed CA to be refused on a new connection', async () => {
      const res = await port.get('/metrics', { cert });
      return res.status === 401;
    });
    // The open connection was verified while the CA was trusted: it is not trusted any longer.
    assert.equal((await port.get('/metrics', { agent: kept })).status, 401);
  } finally {
    await kept.close();
  }
});

test('the program: --authentication-kubeconfig is the client used, a failed lookup stops the start unless tolerated', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-authn-'));
  const server = admin.config.server;
  const junk = join(dir, 'junk.kubeconfig');
  writeFileSync(
    junk,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'not-a-valid-token' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const run = (extra: string[], port: number) =>
    spawnCcm(
      [
        '--cloud-provider=oxide',
        `--kubeconfig=${kubeconfig}`,
        // No controllers: nothing here may act on other test files' objects. With leader
        // election the process keeps running (holding a Lease of its own) until signalled.
        '--controllers=',
        '--leader-elect-resource-namespace=default',
        `--leader-elect-resource-name=${uniqueName('authn-ccm')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--authentication-kubeconfig=${junk}`,
        ...extra,
      ],
      sim,
    );
  try {
    // The lookup as the junk identity gets 401: the start stops, naming what failed.
    const strict = run([], await freePort());
    const timer = setTimeout(() => strict.child.kill('SIGKILL'), 30_000);
    assert.equal(await strict.exited, 1, strict.output());
    clearTimeout(timer);
    assert.match(
      strict.output(),
      /unable to look up configmap\/extension-apiserver-authentication in kube-system/,
    );

    // Tolerated: it serves, and TokenReviews go out as the junk identity, so even the admin
    // token is refused, while --authorization-kubeconfig (default: --kubeconfig) still works.
    const port2 = await freePort();
    const tolerant = run(
      [
        '--authentication-tolerate-lookup-failure',
        '--tls-min-version=VersionTLS13',
        '--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
      ],
      port2,
    );
    try {
      const insecure = new Agent({ connect: { rejectUnauthorized: false } });
      const get = async (headers: Record<string, string> = {}) =>
        (await fetch(`https://127.0.0.1:${port2}/metrics`, { dispatcher: insecure, headers }))
          .status;
      await waitFor('the secure port', () => get().catch(() => 0), 30_000, 200).catch(
        (err: unknown) => {
          throw new Error(`${String(err)}\n${tolerant.output()}`);
        },
      );
      assert.equal(await get(), 403, tolerant.output());
      const adminToken = admin.config.token ?? '';
      assert.equal(await get({ authorization: `Bearer ${adminToken}` }), 401, tolerant.output());
      await insecure.close();
      // --tls-min-version=VersionTLS13: a TLS 1.2 client gets no handshake.
      const tls12 = new Agent({ connect: { rejectUnauthorized: false, maxVersion: 'TLSv1.2' } });
      await assert.rejects(
        fetch(`https://127.0.0.1:${port2}/healthz`, { dispatcher: tls12 }),
        (err: Error) => /protocol version|unsupported protocol/i.test(String(err.cause)),
      );
      await tls12.close();
    } finally {
      tolerant.child.kill('SIGTERM');
      await tolerant.exited;
    }
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
