// The CCM as deployed, measured as a process: the bundle (`make bundle` → dist/*.mjs) on the pinned
// Node.js with the image's flags (hack/node-flags), against a real kube-apiserver and the Oxide
// simulator (50 ms per request) in this process. Memory is the CCM process's VmHWM/VmRSS from
// /proc/<pid>/status, CPU time its utime+stime from /proc/<pid>/stat, live heap from a heap
// snapshot (SIGUSR2, after a full GC). Each run is a fresh CCM process on a fresh apiserver.
//
// Runs (each bounded; BENCH_BUDGET_S, default 1500, skips the runs that would start after it;
// all four took 8.5–10 min on the 2-core machine of docs/benchmarks.md, load 2–16):
//   nodes100      default flags, 100 Nodes join
//   nodes1000     --kube-api-qps 500 --kube-api-burst 1000, 1000 Nodes join; one address resync
//                 (--node-status-update-frequency 30s); 3000 LoadBalancer Services created and
//                 deleted (CHURN, in batches), live heap before/after
//   default1000   default flags, 1000 Nodes join; 200 LoadBalancer Services; idle 30 s
//   nodes5000     --kube-api-qps 500 --kube-api-burst 1000, 5000 Nodes + 1000 LoadBalancer Services; idle 30 s
// BENCH_RUNS=nodes100,nodes1000 picks runs. CCM_TREE=/path/to/checkout runs that tree's bundle and
// hack/node-flags (built there beforehand) instead of this one's, for before/after comparisons.
// The CCM gets the image's environment (the Containerfile's ENV lines, e.g. MALLOC_ARENA_MAX),
// overridden by this process's. For choosing defaults by measurement: BENCH_NODE_FLAGS replaces
// hack/node-flags, BENCH_CCM_FLAGS adds CCM flags (both space-separated). Printed for the
// record, never asserted.
// Run: make bundle && node_modules/.bin/node bench/ccm-process.bench.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import type { Simulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { hasTaint, TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';
import { createKubeletNode } from '../test/harness/nodes.ts';
import { freePort } from '../test/harness/ports.ts';
import { repoRoot } from '../test/harness/testbin.ts';
import { CcmUnderBench, imageEnv } from './ccm-process.ts';
import { summarizeHeapSnapshot } from './heap-summary.ts';
import type { HeapSummary } from './heap-summary.ts';
import {
  formatOps,
  formatRatio,
  inParallel,
  machine,
  printTable,
  seconds,
  sumOps,
  until,
} from './lib.ts';
import type { Cell } from './lib.ts';

const LATENCY_MS = 50;
const BUDGET_MS = Number(process.env['BENCH_BUDGET_S'] ?? 1500) * 1000;
const ccmTree = process.env['CCM_TREE'] ?? repoRoot;
const ccmTreeNote = process.env['CCM_TREE'] ? ` (tree ${process.env['CCM_TREE']})` : '';
const ONLY = process.env['BENCH_RUNS']?.split(',').filter(Boolean);
const CHURN = Number(process.env['CHURN'] ?? 3000);
const CHURN_BATCH = 250;
const CHURN_WARM = 1000;

const growth = (from: number, to: number): string =>
  `${to >= from ? '+' : ''}${Math.round(((to - from) / from) * 100)} %`;
const IDLE_MS = 30_000;
const FAST = ['--kube-api-qps=500', '--kube-api-burst=1000'];
const REGISTRATION_CONCURRENCY = 100;
const benchStarted = performance.now();

/** Room for 1000+ floating IPs: the default documentation pool has 241 addresses. */
const BIG_POOLS = [
  {
    name: 'bench-v4',
    version: 'v4' as const,
    isDefault: true,
    ranges: [{ first: '198.18.0.10', last: '198.19.255.250' }],
  },
  {
    name: 'bench-v6',
    version: 'v6' as const,
    isDefault: true,
    ranges: [{ first: '2001:db8:100::10', last: '2001:db8:100::ffff' }],
  },
];

const initialized = (n: V1Node): boolean =>
  !hasTaint(n, TAINT_UNINITIALIZED) &&
  (n.status?.addresses ?? []).some((a) => a.type === 'InternalIP');
const hasIngress = (s: V1Service | undefined): boolean =>
  (s?.status?.loadBalancer?.ingress ?? []).length > 0;

/** Everything one run needs: apiserver, simulator, the CCM process, observers. */
class Rig {
  readonly cp = new ControlPlane({ detachFromProcess: true });
  readonly dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-bench-'));
  sim!: Simulator;
  ccm!: CcmUnderBench;
  harness!: KubeClient;
  nodes!: Informer<V1Node>;
  services!: Informer<V1Service>;
  private readonly abort = new AbortController();
  private readonly running: Promise<void>[] = [];
  readonly created = new Map<string, number>();
  readonly done = new Map<string, number>();
  startedAt = 0;

  async start(instances: number, flags: string[]): Promise<void> {
    const { kubeconfig } = await this.cp.start();
    this.harness = KubeClient.load(kubeconfig, { qps: 5000, burst: 5000 });
    this.sim = await startSimulator({
      seed: { project: 'k8s', pools: BIG_POOLS },
      latencyMs: LATENCY_MS,
    });
    // The default subnet (/22) holds about 1000 NICs; larger runs use a /18 of their own, so the
    // NIC walk covers two subnets.
    if (instances > 900) this.sim.db.addSubnet({ name: 'bench', ipv4Block: '10.64.0.0/18' });
    for (let i = 0; i < instances; i++) {
      this.sim.db.addInstance({
        name: `node-${i}`,
        ncpus: 4,
        memoryGiB: 16,
        nics: [{ primary: true, v4: 'auto', ...(instances > 900 ? { subnet: 'bench' } : {}) }],
      });
    }
    this.nodes = new Informer<V1Node>(this.harness, { path: '/api/v1/nodes' });
    this.services = new Informer<V1Service>(this.harness, { path: '/api/v1/services' });
    const observe = (n: V1Node): void => {
      const name = n.metadata?.name ?? '';
      if (this.created.has(name) && !this.done.has(name) && initialized(n))
        this.done.set(name, performance.now());
    };
    this.nodes.addHandlers({ add: observe, update: (_o, n) => observe(n) });
    this.running.push(this.nodes.run(this.abort.signal), this.services.run(this.abort.signal));
    await Promise.all([this.nodes.waitForSync(), this.services.waitForSync()]);
    this.ccm = new CcmUnderBench({
      repoRoot: ccmTree,
      kubeconfig,
      port: await freePort(),
      logFile: join(this.dir, 'ccm.log'),
      dir: this.dir,
      oxide: { host: this.sim.url, token: this.sim.token, project: this.sim.project },
      flags,
    });
    await this.ccm.waitReady();
  }

  /** Registers n Nodes as kubelets do; resolves when every one is initialized. */
  async join(n: number, timeoutMs: number): Promise<{ firstMs: number; allMs: number }> {
    const names = Array.from({ length: n }, (_, i) => `node-${i}`);
    const started = performance.now();
    this.startedAt = started;
    await inParallel(names, REGISTRATION_CONCURRENCY, async (name) => {
      this.created.set(name, performance.now());
      await createKubeletNode(this.harness, name);
    });
    await until(`${n} Nodes initialized`, () => this.done.size === n, timeoutMs, 50);
    const first = Math.min(...this.done.values());
    return { firstMs: first - started, allMs: performance.now() - started };
  }

  /** Creates LoadBalancer Services; resolves when every one has ingress. */
  async createServices(ns: string, names: string[], timeoutMs: number): Promise<number> {
    await this.harness
      .post('/api/v1/namespaces', { metadata: { name: ns } })
      .catch(() => undefined);
    const started = performance.now();
    await inParallel(names, 50, (name) =>
      this.harness.post(`/api/v1/namespaces/${ns}/services`, {
        metadata: { name },
        spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      }),
    );
    await until(
      `${names.length} Services with ingress`,
      () => names.every((n) => hasIngress(this.services.get(`${ns}/${n}`))),
      timeoutMs,
      50,
    );
    return performance.now() - started;
  }

  /** Deletes Services; resolves when they and their floating IPs are gone. */
  async deleteServices(ns: string, names: string[], timeoutMs: number): Promise<void> {
    await inParallel(names, 50, (name) =>
      this.harness.delete(`/api/v1/namespaces/${ns}/services/${name}`),
    );
    await until(
      'Services and floating IPs gone',
      () =>
        names.every((n) => !this.services.get(`${ns}/${n}`)) &&
        this.sim.db.floatingIps.length === 0,
      timeoutMs,
      100,
    );
  }

  /** Waits until no Oxide request has arrived for quietMs. */
  async oxideQuiet(quietMs: number, timeoutMs: number): Promise<void> {
    let last = -1;
    let since = performance.now();
    await until(
      'Oxide calls to stop',
      () => {
        const n = this.sim.requests.count();
        if (n !== last) {
          last = n;
          since = performance.now();
        }
        return performance.now() - since >= quietMs;
      },
      timeoutMs,
      100,
    );
  }

  async heap(): Promise<HeapSummary> {
    const file = await this.ccm.heapSnapshot();
    const summary = summarizeHeapSnapshot(file);
    // BENCH_KEEP_HEAP=1 keeps the snapshots (for retainers: Chrome DevTools, Memory tab).
    if (process.env['BENCH_KEEP_HEAP']) {
      const kept = join(tmpdir(), `ccm-${Date.now()}.heapsnapshot`);
      renameSync(file, kept);
      console.error(`heap snapshot kept: ${kept}`);
    } else rmSync(file, { force: true });
    return summary;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.ccm?.stop();
    await Promise.all(this.running);
    await this.sim?.stop();
    await this.cp.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const memoryRows: Record<string, Cell>[] = [];

/** Of RssAnon: V8's heap as committed and as used, and memory outside it V8 knows of (buffers). */
async function v8Row(rig: Rig, label: string, flags: string): Promise<void> {
  const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
  const [total, used, external] = await Promise.all([
    rig.ccm.metric('nodejs_heap_size_total_bytes'),
    rig.ccm.metric('nodejs_heap_size_used_bytes'),
    rig.ccm.metric('nodejs_external_memory_bytes'),
  ]);
  memoryRows.push({
    row: `${label}, V8 heap committed / used / external`,
    flags,
    MiB: `${mib(total)} / ${mib(used)} / ${mib(external)}`,
  });
}
const speedRows: Record<string, Cell>[] = [];
const callRows: Record<string, Cell>[] = [];
const heapRows: Record<string, Cell>[] = [];
const skipped: string[] = [];

function heapTable(label: string, h: HeapSummary): void {
  heapRows.push({
    when: label,
    kind: `(live heap total, ${h.objects} objects)`,
    count: '',
    MiB: h.totalMiB,
  });
  for (const t of h.top) heapRows.push({ when: label, kind: t.kind, count: t.count, MiB: t.MiB });
}

const runs: { name: string; estimateMs: number; run: (rig: Rig) => Promise<void> }[] = [
  {
    name: 'nodes100',
    estimateMs: 60_000,
    async run(rig) {
      await rig.start(100, []);
      const idle = rig.ccm.memory();
      const cpu0 = rig.ccm.cpuSeconds();
      rig.sim.requests.reset();
      const t = await rig.join(100, 120_000);
      const ops = rig.sim.requests.byOperation();
      const mem = rig.ccm.memory();
      memoryRows.push({ row: 'started, 0 Nodes (VmRSS)', flags: 'default', MiB: idle.rssMiB });
      memoryRows.push({
        row: '  same, anonymous / file-backed (RssAnon / RssFile)',
        flags: 'default',
        MiB: `${idle.anonMiB} / ${idle.fileMiB}`,
      });
      await v8Row(rig, '  same', 'default');
      memoryRows.push({
        row: 'peak, 100 Nodes joining (VmHWM)',
        flags: 'default',
        MiB: mem.hwmMiB,
      });
      speedRows.push({
        row: '100 Nodes join',
        flags: 'default (QPS 20)',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': Math.round((rig.ccm.cpuSeconds() - cpu0) * 10) / 10,
      });
      callRows.push({
        row: 'init, 100 Nodes',
        'Oxide/Node': formatRatio(sumOps(ops) / 100),
        calls: formatOps(ops, 100),
      });
    },
  },
  {
    name: 'nodes1000',
    estimateMs: 60_000 + (CHURN / CHURN_BATCH) * 25_000,
    async run(rig) {
      const resyncS = 30;
      await rig.start(1000, [...FAST, `--node-status-update-frequency=${resyncS}s`]);
      const cpu0 = rig.ccm.cpuSeconds();
      rig.sim.requests.reset();
      const t = await rig.join(1000, 180_000);
      const cpu = rig.ccm.cpuSeconds() - cpu0;
      const ops = rig.sim.requests.byOperation();
      const mem = rig.ccm.memory();
      memoryRows.push({
        row: 'peak, 1000 Nodes joining (VmHWM)',
        flags: 'QPS 500',
        MiB: mem.hwmMiB,
      });
      speedRows.push({
        row: '1000 Nodes join',
        flags: 'QPS 500 / burst 1000',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': Math.round(cpu * 10) / 10,
      });
      callRows.push({
        row: 'init, 1000 Nodes',
        'Oxide/Node': formatRatio(sumOps(ops) / 1000),
        calls: formatOps(ops, 1000),
      });

      // One address resync: the pass starts within resyncS of the last write; count until quiet.
      await rig.oxideQuiet(2000, 60_000);
      rig.sim.requests.reset();
      await until('a resync pass', () => rig.sim.requests.count() > 0, (resyncS + 10) * 1000, 100);
      await rig.oxideQuiet(3000, resyncS * 1000);
      const resync = rig.sim.requests.byOperation();
      callRows.push({
        row: 'one address resync, 1000 Nodes',
        'Oxide/Node': formatRatio(sumOps(resync) / 1000),
        calls: formatOps(resync, 1000),
      });

      if (CHURN > 0) {
        const before = await rig.heap();
        heapTable('before churn', before);
        const churnStarted = performance.now();
        // The heap is also read after the first CHURN_WARM Services: by then the bounded caches a
        // churn fills (the event correlator's 4096 entries, ~4 Events per Service) are full and the
        // delete path is compiled, so growth from there on is what a leak would look like.
        let warm: Awaited<ReturnType<typeof rig.heap>> | undefined;
        for (let b = 0; b * CHURN_BATCH < CHURN; b++) {
          const names = Array.from(
            { length: Math.min(CHURN_BATCH, CHURN - b * CHURN_BATCH) },
            (_, i) => `churn-${b}-${i}`,
          );
          await rig.createServices('churn', names, 180_000);
          await rig.deleteServices('churn', names, 180_000);
          if ((b + 1) * CHURN_BATCH === CHURN_WARM && CHURN > CHURN_WARM) {
            await rig.oxideQuiet(3000, 60_000);
            warm = await rig.heap();
            heapTable(`after ${CHURN_WARM} Services churned`, warm);
          }
        }
        const churnMs = performance.now() - churnStarted;
        await rig.oxideQuiet(3000, 60_000);
        const after = await rig.heap();
        heapTable(`after ${CHURN} Services churned`, after);
        memoryRows.push({
          row: `live heap before / after ${CHURN} LB Services created+deleted (${seconds(churnMs)} s)`,
          flags: 'QPS 500',
          MiB: `${before.totalMiB} / ${after.totalMiB} (${growth(before.totalMiB, after.totalMiB)})`,
        });
        if (warm) {
          memoryRows.push({
            row: `  same, after ${CHURN_WARM} / after ${CHURN} (caches full at ${CHURN_WARM})`,
            flags: 'QPS 500',
            MiB: `${warm.totalMiB} / ${after.totalMiB} (${growth(warm.totalMiB, after.totalMiB)})`,
          });
        }
      }
    },
  },
  {
    name: 'default1000',
    estimateMs: 240_000,
    async run(rig) {
      await rig.start(1000, []);
      const cpu0 = rig.ccm.cpuSeconds();
      const t = await rig.join(1000, 300_000);
      speedRows.push({
        row: '1000 Nodes join',
        flags: 'default (QPS 20)',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': Math.round((rig.ccm.cpuSeconds() - cpu0) * 10) / 10,
      });
      await rig.oxideQuiet(2000, 60_000);
      rig.sim.requests.reset();
      const names = Array.from({ length: 200 }, (_, i) => `svc-${i}`);
      const ms = await rig.createServices('lb', names, 300_000);
      const ops = rig.sim.requests.byOperation();
      speedRows.push({
        row: '200 LB Services → all ingress (1000 Nodes)',
        flags: 'default',
        'first Node (s)': '',
        'all init (s)': seconds(ms),
        'CPU (s)': '',
      });
      callRows.push({
        row: 'create, 200 LB Services',
        'Oxide/Service': formatRatio(sumOps(ops) / 200),
        calls: formatOps(ops, 200),
      });
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const mem = rig.ccm.memory();
      memoryRows.push({
        row: 'idle, 1000 Nodes + 200 LB Services, after 30 s (VmRSS)',
        flags: 'default',
        MiB: mem.rssMiB,
      });
      memoryRows.push({
        row: '  same, anonymous / file-backed (RssAnon / RssFile)',
        flags: 'default',
        MiB: `${mem.anonMiB} / ${mem.fileMiB}`,
      });
      await v8Row(rig, '  same', 'default');
      memoryRows.push({ row: '  same, peak (VmHWM)', flags: 'default', MiB: mem.hwmMiB });
    },
  },
  {
    name: 'nodes5000',
    estimateMs: 360_000,
    async run(rig) {
      await rig.start(5000, FAST);
      await rig.join(5000, 300_000);
      const names = Array.from({ length: 1000 }, (_, i) => `svc-${i}`);
      await rig.createServices('lb', names, 300_000);
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const mem = rig.ccm.memory();
      memoryRows.push({
        row: 'idle, 5000 Nodes + 1000 LB Services, after 30 s (VmRSS)',
        flags: 'QPS 500',
        MiB: mem.rssMiB,
      });
      memoryRows.push({
        row: '  same, anonymous / file-backed (RssAnon / RssFile)',
        flags: 'QPS 500',
        MiB: `${mem.anonMiB} / ${mem.fileMiB}`,
      });
      await v8Row(rig, '  same', 'QPS 500');
      memoryRows.push({ row: '  same, peak (VmHWM)', flags: 'QPS 500', MiB: mem.hwmMiB });
    },
  },
];

console.error('bench: make bundle');
execFileSync(join(repoRoot, 'node_modules', '.bin', 'node'), ['hack/bundle.ts'], {
  cwd: repoRoot,
  stdio: ['ignore', 'ignore', 'inherit'],
});

let nodeFlags: string[] = [];
for (const r of runs) {
  if (ONLY && !ONLY.includes(r.name)) continue;
  const left = BUDGET_MS - (performance.now() - benchStarted);
  if (left < r.estimateMs) {
    skipped.push(
      `${r.name} (needs ~${Math.round(r.estimateMs / 1000)} s, ${Math.round(left / 1000)} s left of BENCH_BUDGET_S)`,
    );
    continue;
  }
  const rig = new Rig();
  const started = performance.now();
  try {
    await r.run(rig);
    nodeFlags = rig.ccm.nodeFlags;
  } catch (err) {
    skipped.push(
      `${r.name} failed: ${String(err).slice(0, 300)}; CCM log:\n${rig.ccm?.logTail(5) ?? ''}`,
    );
  } finally {
    await rig.stop();
  }
  console.error(`ccm-process ${r.name} done in ${seconds(performance.now() - started)} s`);
}

printTable(
  [
    `CCM process: dist/oxide-cloud-controller-manager.mjs run as "${Object.entries(
      imageEnv(ccmTree),
    )
      .map(([k, v]) => `${k}=${v} `)
      .join(
        '',
      )}node ${[...nodeFlags, '--heapsnapshot-signal=SIGUSR2'].join(' ')}" (the Containerfile's ENV, hack/node-flags)${ccmTreeNote}, no leader election; kubelets register Nodes ${REGISTRATION_CONCURRENCY} at a time; Oxide simulator ${LATENCY_MS} ms/request; real kube-apiserver; a fresh apiserver and CCM per run.`,
    `Machine: ${machine()}`,
    '',
    'Memory of the CCM process (/proc/<pid>/status; live heap from a heap snapshot after full GC)',
  ],
  memoryRows,
);
printTable(
  [
    'Time and CPU (CPU: utime+stime of the CCM from the first registration until the last Node initialized)',
  ],
  speedRows,
);
printTable(['Oxide calls'], callRows);
printTable(['Live heap by kind (heap snapshot, self sizes)'], heapRows);
if (skipped.length > 0) console.log(`Not run: ${skipped.join('; ')}`);
