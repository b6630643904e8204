// The CCM as deployed (the bundle with the image's flags and ENV, bench/ccm-process.ts) on a real
// cluster at production shape: KWOK_NODES kwok Nodes (default 5000), kube-controller-manager
// (--cloud-provider=external, production grace periods), kube-scheduler, and kwok as every Node's
// kubelet, renewing each Node's Lease every 10 s (kubelet: 40 s lease) and re-posting its status
// every 10 s (the pre-Lease kubelet period: the most status churn a CCM's Node informer will
// see), with 30 images per Node in status.images so the Node objects weigh what real ones do;
// then KWOK_SERVICES LoadBalancer Services (default 1000). Phases: join (every Node registered as
// kubelet --cloud-provider=external does, until the CCM initialized every one), services (all with
// ingress), and steady: KWOK_MINUTES (default
// 10; 30 for the long run) of status churn with nothing to do, RSS sampled every 30 s, so growth
// that does not level off shows. Measures the CCM's RSS (/proc: VmRSS, RssAnon, RssFile, VmHWM),
// CPU, Oxide calls and Node updates observed. Targets (issue 23) judged by bench/targets.ts.
// Run: node_modules/.bin/node bench/kwok-nodes.bench.ts (KWOK_NODES=500 KWOK_SERVICES=100 KWOK_MINUTES=2 for a quick one)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { startKubeCluster } from '../test/harness/cluster.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';
import { registerKwokNode } from '../test/harness/kwok.ts';
import { freePort } from '../test/harness/ports.ts';
import { repoRoot } from '../test/harness/testbin.ts';
import { CcmUnderBench } from './ccm-process.ts';
import type { ProcMemory } from './ccm-process.ts';
import {
  BENCH_SUBNET,
  formatOps,
  inParallel,
  machine,
  printTable,
  seconds,
  sumOps,
  until,
} from './lib.ts';
import type { Cell } from './lib.ts';
import { OXIDE_LATENCY_MS } from './oxide-row.ts';
import { Scorecard } from './targets.ts';

const STATUS_REPORT_MS = 10_000;
const IMAGES_PER_NODE = 30;
const NODES = Number(process.env['KWOK_NODES'] ?? 5000);
const SERVICES = Number(process.env['KWOK_SERVICES'] ?? 1000);
const MINUTES = Number(process.env['KWOK_MINUTES'] ?? 10);
const SAMPLE_MS = 30_000;
const JOIN_TIMEOUT_MS = 1_200_000;
const FAST = ['--kube-api-qps=500', '--kube-api-burst=1000'];
const atShape = NODES === 5000 && SERVICES === 1000;

const card = new Scorecard('kwok-nodes.bench.ts', [
  {
    id: 'kwok-peak',
    what: 'peak RSS (VmHWM), 5000 kwok Nodes (30 images, status every 10 s) + 1000 LB Services',
    compare: '<=',
    limit: 200,
    unit: 'MiB',
  },
  {
    id: 'kwok-idle',
    what: 'RSS (VmRSS) at the end of the steady phase, same cluster',
    compare: '<=',
    limit: 200,
    unit: 'MiB',
    goCcm: '209 MiB',
  },
  {
    id: 'kwok-growth',
    what: 'RSS growth over the second half of the steady phase (bounded: levels off)',
    compare: '<=',
    limit: 5,
    unit: '%',
  },
]);

/** Room for 1000+ floating IPs: the default documentation pool has 241 addresses. */
const BIG_POOLS = [
  {
    name: 'bench-v4',
    version: 'v4' as const,
    isDefault: true,
    ranges: [{ first: '198.18.0.10', last: '198.19.255.250' }],
  },
];

/** The CCM's part of a join: the Node has its addresses and no uninitialized taint. */
const initialized = (n: V1Node): boolean =>
  !(n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED) &&
  (n.status?.addresses ?? []).some((a) => a.type === 'InternalIP');

const usable = (n: V1Node): boolean =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
  !(n.spec?.taints ?? []).some(
    (t) => t.key === TAINT_UNINITIALIZED || t.key === 'node.kubernetes.io/not-ready',
  );
const hasIngress = (s: V1Service | undefined): boolean =>
  (s?.status?.loadBalancer?.ingress ?? []).length > 0;

const memRow = (m: ProcMemory): string => `${m.rssMiB} (${m.anonMiB} / ${m.fileMiB})`;

async function run(): Promise<{ rows: Record<string, Cell>[]; samples: Record<string, Cell>[] }> {
  const cp = new ControlPlane({ detachFromProcess: true });
  const info = await cp.start();
  const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-kwok-'));
  const names = Array.from({ length: NODES }, (_, i) => `kwok-${i}`);
  const sim = await startSimulator({
    seed: { project: 'k8s', pools: BIG_POOLS },
    latencyMs: OXIDE_LATENCY_MS,
  });
  // On loopback: BENCH_SUBNET says why.
  sim.db.addSubnet(BENCH_SUBNET);
  for (const name of names) {
    sim.db.addInstance({
      name,
      ncpus: 4,
      memoryGiB: 16,
      nics: [{ primary: true, v4: 'auto', subnet: BENCH_SUBNET.name }],
    });
  }
  const cluster = await startKubeCluster({
    kubeconfig: info.kubeconfig,
    dir: info.dir,
    leaseDurationSeconds: 40,
    nodeMonitorGracePeriod: '50s',
    statusReportMs: STATUS_REPORT_MS,
    imagesPerNode: IMAGES_PER_NODE,
    detachFromProcess: true,
  });
  const ccm = new CcmUnderBench({
    repoRoot,
    kubeconfig: info.kubeconfig,
    port: await freePort(),
    logFile: join(dir, 'ccm.log'),
    dir,
    oxide: { host: sim.url, token: sim.token, project: sim.project },
    flags: FAST,
  });
  const kube = KubeClient.load(info.kubeconfig, {
    qps: 5000,
    burst: 5000,
    userAgent: 'kwok-bench',
  });
  const observer = new Informer<V1Node>(kube, { path: '/api/v1/nodes' });
  const services = new Informer<V1Service>(kube, { path: '/api/v1/services' });
  let updates = 0;
  const ready = new Set<string>();
  const inited = new Set<string>();
  const observe = (n: V1Node): void => {
    if (usable(n)) ready.add(n.metadata?.name ?? '');
    if (initialized(n)) inited.add(n.metadata?.name ?? '');
  };
  observer.addHandlers({
    add: observe,
    update: (_old, n) => {
      updates += 1;
      observe(n);
    },
  });
  const abort = new AbortController();
  const watching = [observer.run(abort.signal), services.run(abort.signal)];
  const rows: Record<string, Cell>[] = [];
  const samples: Record<string, Cell>[] = [];
  try {
    await ccm.waitReady();
    await Promise.all([observer.waitForSync(), services.waitForSync()]);
    sim.requests.reset();
    const start = ccm.memory();
    const cpu0 = ccm.cpuSeconds();
    const started = performance.now();
    await inParallel(names, 100, (name) => registerKwokNode(kube, name));
    // The CCM's part decides: every Node initialized. Ready and the not-ready taint's removal are
    // kwok's and kube-controller-manager's, which a loaded machine slows far more than the CCM.
    await until(`${NODES} Nodes initialized`, () => inited.size === NODES, JOIN_TIMEOUT_MS, 100);
    const joinMs = performance.now() - started;
    const usableAtJoin = ready.size;
    const joinOps = sim.requests.byOperation();
    const joined = ccm.memory();
    rows.push({
      phase: `join, ${NODES} Nodes (initialized; ${usableAtJoin} also Ready without not-ready then)`,
      'time (s)': seconds(joinMs),
      'CPU (s)': Math.round((ccm.cpuSeconds() - cpu0) * 10) / 10,
      'Node updates': updates,
      'RSS start → end (anon / file), MiB': `${memRow(start)} → ${memRow(joined)}`,
      'peak RSS (MiB)': joined.hwmMiB,
      'Oxide calls': `${sumOps(joinOps)}: ${formatOps(joinOps)}`,
    });

    sim.requests.reset();
    await kube.post('/api/v1/namespaces', { metadata: { name: 'lb' } });
    const svcStarted = performance.now();
    const cpu1 = ccm.cpuSeconds();
    const svcNames = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);
    await inParallel(svcNames, 50, (name) =>
      kube.post('/api/v1/namespaces/lb/services', {
        metadata: { name },
        spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      }),
    );
    await until(
      `${SERVICES} Services with ingress`,
      () => svcNames.every((n) => hasIngress(services.get(`lb/${n}`))),
      JOIN_TIMEOUT_MS,
      200,
    );
    const svcOps = sim.requests.byOperation();
    const withSvcs = ccm.memory();
    rows.push({
      phase: `${SERVICES} LB Services → ingress`,
      'time (s)': seconds(performance.now() - svcStarted),
      'CPU (s)': Math.round((ccm.cpuSeconds() - cpu1) * 10) / 10,
      'Node updates': '',
      'RSS start → end (anon / file), MiB': `${memRow(joined)} → ${memRow(withSvcs)}`,
      'peak RSS (MiB)': withSvcs.hwmMiB,
      'Oxide calls': `${sumOps(svcOps)}: ${formatOps(svcOps)}`,
    });

    sim.requests.reset();
    updates = 0;
    const steadyMs = MINUTES * 60_000;
    const cpu2 = ccm.cpuSeconds();
    const t0 = performance.now();
    const before = ccm.memory();
    let half: ProcMemory | undefined;
    for (let at = SAMPLE_MS; at <= steadyMs; at += SAMPLE_MS) {
      await new Promise((r) => setTimeout(r, t0 + at - performance.now()));
      const m = ccm.memory();
      if (!half && at >= steadyMs / 2) half = m;
      samples.push({
        minute: Math.round((at / 60_000) * 10) / 10,
        VmRSS: m.rssMiB,
        RssAnon: m.anonMiB,
        RssFile: m.fileMiB,
        VmHWM: m.hwmMiB,
        'CPU so far (s)': Math.round((ccm.cpuSeconds() - cpu2) * 10) / 10,
      });
    }
    const after = ccm.memory();
    const steadyOps = sim.requests.byOperation();
    rows.push({
      phase: `steady ${MINUTES} min`,
      'time (s)': seconds(performance.now() - t0),
      'CPU (s)': Math.round((ccm.cpuSeconds() - cpu2) * 10) / 10,
      'Node updates': `${updates} (${Math.round(updates / (MINUTES * 60))}/s)`,
      'RSS start → end (anon / file), MiB': `${memRow(before)} → ${memRow(after)}`,
      'peak RSS (MiB)': after.hwmMiB,
      'Oxide calls': `${sumOps(steadyOps)}: ${formatOps(steadyOps) || '-'}`,
    });
    if (atShape) {
      card.record('kwok-peak', after.hwmMiB);
      card.record('kwok-idle', after.rssMiB, `RssAnon ${after.anonMiB} + RssFile ${after.fileMiB}`);
      if (half) {
        card.record(
          'kwok-growth',
          ((after.rssMiB - half.rssMiB) / half.rssMiB) * 100,
          `${half.rssMiB} → ${after.rssMiB} MiB over the last ${MINUTES / 2} min`,
        );
      }
    } else {
      for (const id of ['kwok-peak', 'kwok-idle', 'kwok-growth'])
        card.notRun(id, `run at ${NODES} Nodes + ${SERVICES} Services`);
    }
    return { rows, samples };
  } finally {
    await ccm.stop();
    abort.abort();
    await Promise.all(watching.map((w) => w.catch(() => undefined)));
    await cluster.stop();
    await sim.stop();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.error('bench: make bundle');
execFileSync(join(repoRoot, 'node_modules', '.bin', 'node'), ['hack/bundle.ts'], {
  cwd: repoRoot,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const started = performance.now();
let result: Awaited<ReturnType<typeof run>> | undefined;
try {
  result = await run();
} catch (err) {
  for (const id of ['kwok-peak', 'kwok-idle', 'kwok-growth'])
    card.notRun(id, `failed: ${String(err).slice(0, 200)}`);
  console.log(`kwok-nodes failed: ${String(err).slice(0, 500)}`);
}
console.error(`kwok-nodes done in ${seconds(performance.now() - started)} s`);
if (result) {
  printTable(
    [
      `kwok Nodes: the CCM as deployed (bundle, image flags and ENV; --kube-api-qps 500 --kube-api-burst 1000, no leader election) in a real cluster (kube-controller-manager --cloud-provider=external, kube-scheduler, kwok v0.8.0 as kubelet: Lease 40 s renewed every 10 s, status re-posted every ${STATUS_REPORT_MS / 1000} s, ${IMAGES_PER_NODE} images per Node), ${NODES} Nodes, ${SERVICES} LB Services, simulator latency ${OXIDE_LATENCY_MS} ms/request.`,
      `Machine: ${machine()}`,
      `"join": first registration to the last Node initialized by the CCM (how many kwok and kube-controller-manager had made usable by then is in the phase). "steady": ${MINUTES} min of heartbeats and status churn. RSS of the CCM process from /proc (peak = VmHWM since start). "Node updates": update events on a Node watch (the churn every Node informer absorbs).`,
    ],
    result.rows,
  );
  printTable(
    [`CCM memory during the steady phase, every ${SAMPLE_MS / 1000} s (MiB)`],
    result.samples,
  );
}
card.print([`Machine: ${machine()}`]);
