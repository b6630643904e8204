// The CCM process (node src/main.ts, default flags but no leader election) on a real cluster of
// N kwok Nodes: kube-controller-manager (--cloud-provider=external, production grace periods),
// kube-scheduler, and kwok as every Node's kubelet, renewing each Node's Lease every 10 s (kubelet:
// 40 s lease) and re-posting its status every 10 s (the pre-Lease kubelet period: the most status
// churn a CCM's Node informer will see), with 30 images per Node in status.images so the Node
// objects weigh what real ones do. Phases per row: join (every Node registered as kubelet
// --cloud-provider=external does, until every one is initialized, Ready and without
// node.kubernetes.io/not-ready) and steady (a 60 s window of status churn with nothing to do).
// Measures the CCM's RSS (/proc, the whole process), Oxide calls and Node updates observed.
// Printed for the record, never asserted. Run: node_modules/.bin/node bench/kwok-nodes.bench.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import { CcmProcess } from '../hack/demo/ccm.ts';
import { KubeClient } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { startKubeCluster } from '../test/harness/cluster.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';
import { registerKwokNode } from '../test/harness/kwok.ts';
import { freePort } from '../test/harness/ports.ts';
import { repoRoot } from '../test/harness/testbin.ts';
import {
  formatOps,
  formatRatio,
  inParallel,
  machine,
  printTable,
  runRows,
  seconds,
  sumOps,
  until,
} from './lib.ts';
import type { Cell } from './lib.ts';
import { OXIDE_LATENCY_MS } from './oxide-row.ts';

const STATUS_REPORT_MS = 10_000;
const IMAGES_PER_NODE = 30;
const STEADY_MS = 60_000;
const JOIN_TIMEOUT_MS = 600_000;
const ROWS = [100, 500];

/** Resident and peak-resident memory of a process, MiB, from /proc/<pid>/status. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  return { rss: Math.round(kib('VmRSS') / 102.4) / 10, hwm: Math.round(kib('VmHWM') / 102.4) / 10 };
}

const usable = (n: V1Node): boolean =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
  !(n.spec?.taints ?? []).some(
    (t) => t.key === TAINT_UNINITIALIZED || t.key === 'node.kubernetes.io/not-ready',
  );

async function run(nodes: number): Promise<Record<string, Cell>[]> {
  const cp = new ControlPlane({ detachFromProcess: true });
  const info = await cp.start();
  const names = Array.from({ length: nodes }, (_, i) => `kwok-${i}`);
  const sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: names.map((name) => ({ name, ncpus: 4, memoryGiB: 16 })),
    },
    latencyMs: OXIDE_LATENCY_MS,
  });
  const cluster = await startKubeCluster({
    kubeconfig: info.kubeconfig,
    dir: info.dir,
    leaseDurationSeconds: 40,
    nodeMonitorGracePeriod: '50s',
    statusReportMs: STATUS_REPORT_MS,
    imagesPerNode: IMAGES_PER_NODE,
    detachFromProcess: true,
  });
  const ccm = new CcmProcess({
    repoRoot,
    kubeconfig: info.kubeconfig,
    port: await freePort(),
    logFile: join(info.dir, 'ccm.log'),
    oxide: { host: sim.url, token: sim.token, project: sim.project },
  });
  const kube = KubeClient.load(info.kubeconfig, { qps: 5000, burst: 5000 });
  const observer = new Informer<V1Node>(kube, { path: '/api/v1/nodes' });
  let updates = 0;
  const ready = new Set<string>();
  const observe = (n: V1Node): void => {
    if (usable(n)) ready.add(n.metadata?.name ?? '');
  };
  observer.addHandlers({
    add: observe,
    update: (_old, n) => {
      updates += 1;
      observe(n);
    },
  });
  const abort = new AbortController();
  const watching = observer.run(abort.signal);
  const pid = ccm.child.pid ?? 0;
  const rows: Record<string, Cell>[] = [];
  try {
    await ccm.waitReady(Date.now() + 60_000);
    await observer.waitForSync();
    sim.requests.reset();
    const idle = memoryOf(pid);
    const started = performance.now();
    await inParallel(names, 100, (name) => registerKwokNode(kube, name));
    await until(`${nodes} Nodes usable`, () => ready.size === nodes, JOIN_TIMEOUT_MS, 100);
    const joinMs = performance.now() - started;
    const joinOps = sim.requests.byOperation();
    const joined = memoryOf(pid);
    rows.push({
      Nodes: nodes,
      phase: 'join',
      'time (s)': seconds(joinMs),
      'Node updates': updates,
      'Oxide calls': sumOps(joinOps),
      'CCM RSS start (MiB)': idle.rss,
      'CCM RSS end (MiB)': joined.rss,
      'CCM peak RSS (MiB)': joined.hwm,
      'Oxide calls by operation': formatOps(joinOps),
    });

    sim.requests.reset();
    updates = 0;
    const before = memoryOf(pid);
    await new Promise((r) => setTimeout(r, STEADY_MS));
    const after = memoryOf(pid);
    const steadyOps = sim.requests.byOperation();
    rows.push({
      Nodes: nodes,
      phase: `steady ${STEADY_MS / 1000} s`,
      'time (s)': seconds(STEADY_MS),
      'Node updates': `${updates} (${formatRatio(updates / (STEADY_MS / 1000))}/s)`,
      'Oxide calls': sumOps(steadyOps),
      'CCM RSS start (MiB)': before.rss,
      'CCM RSS end (MiB)': after.rss,
      'CCM peak RSS (MiB)': after.hwm,
      'Oxide calls by operation': formatOps(steadyOps) || '-',
    });
    const exit = await ccm.stop();
    if (exit.code !== 0) throw new Error(`the CCM exited with ${exit.code}:\n${ccm.logTail()}`);
    return rows;
  } finally {
    ccm.killNow();
    abort.abort();
    await watching.catch(() => undefined);
    await cluster.stop();
    await sim.stop();
    await cp.stop();
  }
}

// A fresh cluster per row: one row's thousands of Nodes and Leases stay out of the next.
const results = (await runRows('kwok-nodes', ROWS, run)).flat();
printTable(
  [
    `kwok Nodes: the CCM process (default flags, no leader election) in a real cluster (kube-controller-manager --cloud-provider=external, kube-scheduler, kwok v0.8.0 as kubelet: Lease 40 s renewed every 10 s, status re-posted every ${STATUS_REPORT_MS / 1000} s, ${IMAGES_PER_NODE} images per Node), simulator latency ${OXIDE_LATENCY_MS} ms/request, one fresh cluster per row.`,
    `Machine: ${machine()}`,
    `"join": first registration to the last Node initialized (CCM), Ready (kwok) and without not-ready (KCM). "steady": ${STEADY_MS / 1000} s of heartbeats and status churn. RSS of the CCM process from /proc (peak = VmHWM since start). "Node updates": update events on a Node watch (the churn every Node informer absorbs).`,
  ],
  results,
);
