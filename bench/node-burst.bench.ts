// N Nodes join at once: kubelet registers each with the uninitialized taint, and the real node
// and node-lifecycle controllers with the real Oxide provider initialize them against the
// simulator (50 ms per Oxide request) and a real kube-apiserver. Measures the time until every
// Node has its addresses and lost its taint, Oxide calls and Kubernetes requests per Node, and
// peak memory, for --concurrent-node-syncs 1 and 10 and kube QPS 20 (upstream default) and 200.
// Printed for the record, never asserted. Run: node_modules/.bin/node bench/node-burst.bench.ts
import type { V1Node } from '@kubernetes/client-node';
import { NodeLifecycleController } from '../src/controllers/node-lifecycle/controller.ts';
import { NodeController } from '../src/controllers/node/controller.ts';
import { Informer } from '../src/kube/informer.ts';
import { hasTaint, TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { createKubeletNode } from '../test/harness/nodes.ts';
import {
  collectGarbage,
  formatOps,
  formatRatio,
  inParallel,
  machine,
  MemorySampler,
  percentile,
  printTable,
  runScenarios,
  seconds,
  sumOps,
  until,
} from './lib.ts';
import type { Cell } from './lib.ts';
import { type KubeRate, measurePhase, OXIDE_LATENCY_MS, startOxideRow } from './oxide-row.ts';

/** Upstream defaults: --node-monitor-period 5s, --node-status-update-frequency 5m. */
const MONITOR_PERIOD_MS = 5_000;
const STATUS_UPDATE_FREQUENCY_MS = 300_000;
/** How many kubelets register at the same moment (the harness's own, unthrottled client). */
const REGISTRATION_CONCURRENCY = 100;
const ROW_TIMEOUT_MS = 120_000;

interface Scenario extends KubeRate {
  nodes: number;
  workers: number;
}

const scenarios: Scenario[] = [
  { nodes: 100, workers: 1, qps: 20, burst: 30 },
  { nodes: 100, workers: 10, qps: 20, burst: 30 },
  { nodes: 100, workers: 1, qps: 200, burst: 300 },
  { nodes: 100, workers: 10, qps: 200, burst: 300 },
  { nodes: 500, workers: 10, qps: 200, burst: 300 },
];

const initialized = (n: V1Node): boolean =>
  !hasTaint(n, TAINT_UNINITIALIZED) &&
  (n.status?.addresses ?? []).some((a) => a.type === 'InternalIP');

interface Result {
  row: Record<string, Cell>;
  calls: Record<string, Cell>;
}

async function run(kubeconfig: string, s: Scenario, row: number): Promise<Result> {
  const prefix = `burst${row}`;
  const names = Array.from({ length: s.nodes }, (_, i) => `${prefix}-${i}`);
  // The controllers' client has the row's QPS; the kubelets and the observer have their own.
  const {
    kube,
    admin: kubelets,
    env,
    stop,
  } = await startOxideRow(
    kubeconfig,
    s,
    names.map((name) => ({ name, ncpus: 4, memoryGiB: 16, nics: [{ primary: true, v4: 'auto' }] })),
  );
  const { sim, ctx } = env;

  const created = new Map<string, number>();
  const done = new Map<string, number>();
  const observer = new Informer<V1Node>(kubelets, { path: '/api/v1/nodes' });
  const observe = (n: V1Node): void => {
    const name = n.metadata?.name ?? '';
    if (created.has(name) && !done.has(name) && initialized(n)) done.set(name, performance.now());
  };
  observer.addHandlers({ add: observe, update: (_old, n) => observe(n) });

  try {
    const nodeController = new NodeController(ctx, {
      workers: s.workers,
      statusUpdateFrequencyMs: STATUS_UPDATE_FREQUENCY_MS,
    });
    const lifecycle = new NodeLifecycleController(ctx, { monitorPeriodMs: MONITOR_PERIOD_MS });
    env.start(observer, nodeController, lifecycle);
    await Promise.all([ctx.informers.waitForSync(env.signal), observer.waitForSync()]);

    collectGarbage();
    const memory = new MemorySampler().start();
    let registeredMs = 0;
    const burst = await measurePhase(sim, kube, async () => {
      const started = performance.now();
      await inParallel(names, REGISTRATION_CONCURRENCY, async (name) => {
        created.set(name, performance.now());
        await createKubeletNode(kubelets, name);
      });
      registeredMs = performance.now() - started;
      await until(`${s.nodes} Nodes initialized`, () => done.size === s.nodes, ROW_TIMEOUT_MS);
    });
    const mem = memory.stop();
    const oxideOps = burst.oxide;
    const latencies = names.map((n) => (done.get(n) ?? 0) - (created.get(n) ?? 0));
    const setting = { Nodes: s.nodes, workers: s.workers, 'QPS/burst': `${s.qps}/${s.burst}` };
    return {
      row: {
        ...setting,
        'registered (s)': seconds(registeredMs),
        'all init (s)': seconds(burst.ms),
        'p50 (s)': seconds(percentile(latencies, 50)),
        'p99 (s)': seconds(percentile(latencies, 99)),
        'Oxide/Node': formatRatio(sumOps(oxideOps) / s.nodes),
        'kube/Node': formatRatio(burst.kube / s.nodes),
        'QPS floor (s)': seconds(Math.max(0, ((burst.kube - s.burst) / s.qps) * 1000)),
        'peak RSS (MiB)': mem.rssMiB,
        'peak heap (MiB)': mem.heapMiB,
      },
      calls: {
        ...setting,
        'Oxide calls per Node': formatOps(oxideOps, s.nodes),
        'kube requests per Node': kube.breakdown(s.nodes),
      },
    };
  } finally {
    await stop();
  }
}

const results = await runScenarios('node-burst', scenarios, run);
printTable(
  [
    `Node burst: N kubelets register at once (${REGISTRATION_CONCURRENCY} in flight); NodeController + NodeLifecycleController (monitor ${MONITOR_PERIOD_MS / 1000} s), OxideCloudProvider, simulator latency ${OXIDE_LATENCY_MS} ms/request, real kube-apiserver on loopback.`,
    `Machine: ${machine()}`,
    `"all init": first registration to the last Node with addresses and without the uninitialized taint. "kube": controller requests (watches excluded), counted until event writes drained. "QPS floor": (kube requests - burst) / QPS.`,
  ],
  results.map((r) => r.row),
);
printTable(
  ['Calls by operation, per Node'],
  results.map((r) => r.calls),
);
