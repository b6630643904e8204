// What authenticating the secure port costs a scrape: 200 scrapes of /metrics with one
// ServiceAccount token (allowed by a ClusterRole, so every scrape needs a TokenReview and a
// SubjectAccessReview unless cached), against a real kube-apiserver, with the review caches off
// (TTL 0) and at upstream's 10 s. Counts the review calls sent and the scrape latency, and the
// cost of 4096 distinct junk tokens (the cache bound) in calls and heap.
// Printed for the record, never asserted. Run: node_modules/.bin/node bench/secure-port.bench.ts
import { Agent, fetch } from 'undici';
import { KubeClient } from '../src/kube/client.ts';
import { silentLogger } from '../src/log.ts';
import { Delegation } from '../src/server/delegation.ts';
import { registry } from '../src/metrics-registry.ts';
import { startServer } from '../src/server/server.ts';
import { selfSignedTls } from '../src/server/tls.ts';
import {
  collectGarbage,
  CountingKubeClient,
  machine,
  mib,
  percentile,
  printTable,
  runScenarios,
} from './lib.ts';
import type { Cell } from './lib.ts';

const SCRAPES = 200;
const JUNK_TOKENS = 4096;

interface Scenario {
  name: string;
  ttlMs: number;
}

const scenarios: Scenario[] = [
  { name: 'no review cache (TTL 0)', ttlMs: 0 },
  { name: "upstream's TTLs (10 s)", ttlMs: 10_000 },
];

async function run(kubeconfig: string, s: Scenario, index: number): Promise<Record<string, Cell>> {
  const admin = KubeClient.load(kubeconfig, { qps: 500, burst: 1000 });
  const sa = `bench-scraper-${index}`;
  await admin.post('/api/v1/namespaces/default/serviceaccounts', { metadata: { name: sa } });
  const role = `bench-metrics-reader-${index}`;
  await admin.post('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name: role },
    rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
  });
  await admin.post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: role },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'ServiceAccount', name: sa, namespace: 'default' }],
  });
  const { token } = (
    await admin.post<{ status: { token: string } }>(
      `/api/v1/namespaces/default/serviceaccounts/${sa}/token`,
      { spec: {} },
    )
  ).status;

  const client = CountingKubeClient.loadCounting(kubeconfig, { qps: 200, burst: 400 });
  const guard = await Delegation.start({
    authenticationClient: client,
    authorizationClient: client,
    tokenCacheTtlMs: s.ttlMs,
    skipLookup: true,
    tolerateLookupFailure: false,
    clientCaFile: '',
    requestHeader: {
      clientCaFile: '',
      allowedNames: [],
      usernameHeaders: [],
      uidHeaders: [],
      groupHeaders: [],
      extraHeaderPrefixes: [],
    },
    alwaysAllowPaths: ['/healthz', '/readyz', '/livez'],
    alwaysAllowGroups: ['system:masters'],
    authorizedTtlMs: s.ttlMs,
    unauthorizedTtlMs: s.ttlMs,
    log: silentLogger,
  });
  const server = await startServer({
    bindAddress: '127.0.0.1',
    port: 0,
    tls: await selfSignedTls('127.0.0.1'),
    healthChecks: {},
    readyChecks: {},
    guard,
    metrics: registry,
    log: silentLogger,
  });
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const scrape = async (bearer: string): Promise<number> => {
    const res = await fetch(`${server.url}/metrics`, {
      dispatcher,
      headers: { authorization: `Bearer ${bearer}` },
    });
    await res.text();
    return res.status;
  };
  try {
    const times: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const started = performance.now();
      const status = await scrape(token);
      if (status !== 200) throw new Error(`scrape ${i}: ${status}`);
      times.push(performance.now() - started);
    }
    const reviews = client.breakdown();
    client.reset();

    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < JUNK_TOKENS; i++) {
      const status = await scrape(`junk-${i}`);
      if (status !== 401) throw new Error(`junk token ${i}: ${status}`);
    }
    collectGarbage();
    const heapAfter = process.memoryUsage().heapUsed;
    return {
      'review cache': s.name,
      scrapes: SCRAPES,
      'review calls': reviews,
      'median ms': Math.round(percentile(times, 50) * 10) / 10,
      'p95 ms': Math.round(percentile(times, 95) * 10) / 10,
      [`${JUNK_TOKENS} junk tokens: calls`]: client.total(),
      'heap delta MiB': mib(heapAfter - heapBefore),
    };
  } finally {
    await dispatcher.close();
    await server.close();
    await guard.close();
  }
}

const rows = await runScenarios('secure-port', scenarios, run);
printTable(
  [
    `# secure port: ${SCRAPES} scrapes of /metrics with one ServiceAccount token (${machine()})`,
    '# review calls = TokenReview + SubjectAccessReview POSTs the gate sent for those scrapes',
  ],
  rows,
);
process.exit(0);
