// The CCM as deployed, measured as a process: the bundle (`make bundle` → dist/*.mjs) on the pinned
// Node.js with the image's flags (hack/node-flags), against a real kube-apiserver and the Oxide
// simulator (50 ms per request) in this process. Memory is the CCM process's VmHWM/VmRSS from
// /proc/<pid>/status, CPU time its utime+stime from /proc/<pid>/stat, live heap from a heap
// snapshot (SIGUSR2, after a full GC), its apiserver writes from the apiserver's audit log (by
// the CCM's user agent). Each run is a fresh CCM process on a fresh apiserver.
//
// Runs (each bounded; BENCH_BUDGET_S, default 2700, skips the runs that would start after it):
//   floor         no CCM: a bare Node.js with the image's flags and ENV, idle; then one that has
//                 used TLS and HTTP/2 through undici (bench/floor-child.mjs): the memory floor
//   nodes100      default flags, 100 Nodes join
//   nodes1000     --kube-api-qps 500 --kube-api-burst 1000, 1000 Nodes join; 3000 LoadBalancer
//                 Services created and deleted (CHURN, in batches), live heap before/after
//   idle1000      default flags, 1000 Nodes join; 200 LoadBalancer Services; every Node's Lease
//                 renewed every 10 s from this process (as kubelets do); after the first address
//                 refresh (which writes each floating IP as its Node's ExternalIP, a real change)
//                 IDLE_MINUTES (default 10) of nothing changing, with two address refreshes inside:
//                 writes, Service re-syncs, Oxide calls, CPU, memory
//                 (IDLE_NODES, IDLE_SERVICES: another size, e.g. 100 and 20; its rows are then
//                 not judged against the 1000-Node targets)
//   nodes5000     --kube-api-qps 500 --kube-api-burst 1000, 5000 Nodes + 1000 LoadBalancer Services; idle 30 s
//   nodes10000    --kube-api-qps 500 --kube-api-burst 1000, 10 000 Nodes join
//   fallback1000  --kube-api-qps 500 --kube-api-burst 1000, 1000 Nodes join and 200 Services while
//                 the simulator refuses vpc_list (403): the NIC-walk fallback's cost
// BENCH_RUNS=nodes100,nodes1000 picks runs. CCM_TREE=/path/to/checkout runs that tree's bundle and
// hack/node-flags (built there beforehand) instead of this one's, for before/after comparisons.
// The CCM gets the image's environment (the Containerfile's ENV lines, e.g. MALLOC_ARENA_MAX),
// overridden by this process's. For choosing defaults by measurement: BENCH_NODE_FLAGS replaces
// hack/node-flags, BENCH_CCM_FLAGS adds CCM flags (both space-separated; a CPU profile:
// BENCH_NODE_FLAGS="--max-semi-space-size=1 --optimize-for-size --cpu-prof --cpu-prof-dir=/tmp/prof").
// Targets (issues 10 and 23) are declared below and judged by bench/targets.ts.
// Run: node_modules/.bin/node bench/ccm-process.bench.ts
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import type { Simulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { hasTaint, TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';
import type { AuditedWrite } from '../test/harness/controlplane.ts';
import { createKubeletNode } from '../test/harness/nodes.ts';
import { freePort } from '../test/harness/ports.ts';
import { repoRoot } from '../test/harness/testbin.ts';
import { CcmUnderBench, imageEnv, imageNodeFlags } from './ccm-process.ts';
import type { ProcMemory } from './ccm-process.ts';
import { summarizeHeapSnapshot } from './heap-summary.ts';
import type { HeapSummary } from './heap-summary.ts';
import { KubeletLeases } from './kubelet-leases.ts';
import {
  BENCH_SUBNET,
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
import { Scorecard } from './targets.ts';

const LATENCY_MS = 50;
const BUDGET_MS = Number(process.env['BENCH_BUDGET_S'] ?? 2700) * 1000;
const ccmTree = process.env['CCM_TREE'] ?? repoRoot;
const ccmTreeNote = process.env['CCM_TREE'] ? ` (tree ${process.env['CCM_TREE']})` : '';
const ONLY = process.env['BENCH_RUNS']?.split(',').filter(Boolean);
const CHURN = Number(process.env['CHURN'] ?? 3000);
const CHURN_BATCH = 250;
const CHURN_WARM = 1000;
const IDLE_MINUTES = Number(process.env['IDLE_MINUTES'] ?? 10);
/** The idle run's size (default 1000 Nodes + 200 Services; the targets are for that size). */
const IDLE_NODES = Number(process.env['IDLE_NODES'] ?? 1000);
const IDLE_SERVICES = Number(process.env['IDLE_SERVICES'] ?? 200);
/** --node-status-update-frequency's default: the address refresh period. */
const REFRESH_MS = 300_000;
/** The user agent of this process's own requests, so the audit log tells them from the CCM's. */
const BENCH_AGENT = 'ccm-process-bench';

const growth = (from: number, to: number): string =>
  `${to >= from ? '+' : ''}${Math.round(((to - from) / from) * 100)} %`;
const growthPct = (from: number, to: number): number => ((to - from) / from) * 100;
const IDLE_MS = 30_000;
const FAST = ['--kube-api-qps=500', '--kube-api-burst=1000'];
const REGISTRATION_CONCURRENCY = 100;
const benchStarted = performance.now();

const card = new Scorecard('ccm-process.bench.ts', [
  {
    id: 'burst500-cpu',
    what: 'CPU, 1000 Nodes join (QPS 500)',
    compare: '<=',
    limit: 6.8,
    unit: 's',
    goCcm: '6.8 s',
  },
  {
    id: 'burst500-peak',
    what: 'peak RSS (VmHWM), 1000 Nodes join (QPS 500)',
    compare: '<=',
    limit: 90,
    unit: 'MiB',
    goCcm: '71–73 MiB',
  },
  {
    id: 'burst500-time',
    what: '1000 Nodes join (QPS 500): all initialized',
    compare: '<=',
    limit: 10,
    unit: 's',
    goCcm: '30 s (10 workers)',
  },
  {
    id: 'first-node',
    what: 'first Node initialized, 1000 Nodes joining (QPS 500)',
    compare: '<=',
    limit: 1,
    unit: 's',
    goCcm: '0.7–1.3 s',
  },
  {
    id: 'init-calls',
    what: 'Oxide calls per Node, initialization (1000 Nodes)',
    compare: '<=',
    limit: 1.2,
    unit: 'calls/Node',
  },
  {
    id: 'churn-heap',
    what: 'live heap growth, LB Services 1000 → 3000 created+deleted (caches full at 1000)',
    compare: '<=',
    limit: 10,
    unit: '%',
  },
  {
    id: 'burst20-cpu',
    what: 'CPU, 1000 Nodes join (default QPS 20)',
    compare: '<=',
    limit: 6.7,
    unit: 's',
    goCcm: '6.7 s',
  },
  {
    id: 'svc-ingress',
    what: '200 LB Services → all ingress (1000 Nodes, default flags)',
    compare: '<=',
    limit: 20,
    unit: 's',
    goCcm: '59 s',
  },
  {
    id: 'svc-calls',
    what: 'Oxide calls per Service create (200 Services)',
    compare: '<=',
    limit: 2,
    unit: 'calls/Service',
  },
  {
    id: 'idle-cpu',
    what: `CPU per 10 min idle, 1000 Nodes + 200 LB Services, 2 address refreshes, kubelet Leases renewed`,
    compare: '<=',
    limit: 3,
    unit: 's',
    goCcm: '2.7 s in 270 s',
  },
  {
    id: 'idle-events',
    what: 'Event writes (create, patch) in that idle window',
    compare: '==',
    limit: 0,
    unit: '',
  },
  {
    id: 'idle-node-writes',
    what: 'Node writes (update, patch, status) in that idle window',
    compare: '==',
    limit: 0,
    unit: '',
  },
  {
    id: 'idle-service-writes',
    what: 'Service writes (update, patch, status) in that idle window',
    compare: '==',
    limit: 0,
    unit: '',
  },
  {
    id: 'idle-resyncs',
    what: 'Service load balancers re-synced for a Node change in that idle window',
    compare: '==',
    limit: 0,
    unit: '',
  },
  {
    id: 'idle-dropped',
    what: 'Events dropped for a full queue (whole idle run)',
    compare: '==',
    limit: 0,
    unit: '',
  },
  {
    id: 'idle-refresh-calls',
    what: 'Oxide calls per address refresh per Node, idle (1000 Nodes; every call of the window)',
    compare: '<=',
    limit: 0.1,
    unit: 'calls/Node',
    goCcm: '3',
  },
  {
    id: 'idle-rss',
    what: 'RSS (VmRSS), 1000 Nodes + 200 LB Services, idle 5 min',
    compare: '<=',
    limit: 80,
    unit: 'MiB',
    goCcm: '79 MiB',
  },
  {
    id: 'idle5000-rss',
    what: 'RSS (VmRSS), 5000 Nodes + 1000 LB Services, idle 30 s',
    compare: '<=',
    limit: 200,
    unit: 'MiB',
    goCcm: '209 MiB',
  },
  {
    id: 'peak5000-rss',
    what: 'peak RSS (VmHWM), 5000 Nodes + 1000 LB Services',
    compare: '<=',
    limit: 200,
    unit: 'MiB',
  },
  {
    id: 'nodes10000-time',
    what: '10 000 Nodes join (QPS 500): all initialized',
    compare: '<=',
    limit: 60,
    unit: 's',
  },
  {
    id: 'fallback-init-calls',
    what: 'Oxide calls per Node, initialization with vpc_list refused (1000 Nodes)',
    compare: '<=',
    limit: 2,
    unit: 'calls/Node',
  },
  {
    id: 'fallback-walks',
    what: 'refused NIC walks (vpc_list) during that initialization and 200 Service creates',
    compare: '<=',
    limit: 1,
    unit: '',
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
  readonly cp = new ControlPlane({ detachFromProcess: true, auditWrites: true });
  readonly dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-bench-'));
  sim!: Simulator;
  ccm!: CcmUnderBench;
  harness!: KubeClient;
  nodes!: Informer<V1Node>;
  services!: Informer<V1Service>;
  leases: KubeletLeases | undefined;
  private readonly abort = new AbortController();
  private readonly running: Promise<void>[] = [];
  readonly created = new Map<string, number>();
  readonly done = new Map<string, number>();
  startedAt = 0;
  /** performance.now() when the CCM answered /readyz: its controllers' timers start about then. */
  readyAt = 0;

  async start(instances: number, flags: string[]): Promise<void> {
    const { kubeconfig } = await this.cp.start();
    this.harness = KubeClient.load(kubeconfig, { qps: 5000, burst: 5000, userAgent: BENCH_AGENT });
    this.sim = await startSimulator({
      seed: { project: 'k8s', pools: BIG_POOLS },
      latencyMs: LATENCY_MS,
    });
    // Every NIC on a loopback subnet of its own (BENCH_SUBNET says why), so the NIC walk covers
    // two subnets (the default one is empty).
    this.sim.db.addSubnet(BENCH_SUBNET);
    for (let i = 0; i < instances; i++) {
      this.sim.db.addInstance({
        name: `node-${i}`,
        ncpus: 4,
        memoryGiB: 16,
        nics: [{ primary: true, v4: 'auto', subnet: BENCH_SUBNET.name }],
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
    this.readyAt = performance.now();
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

  /**
   * Waits until neither an Oxide call nor a CCM write to the apiserver has come for quietMs: a
   * refresh that needs few Oxide calls may still be writing Nodes behind the QPS limiter.
   */
  async ccmQuiet(quietMs: number, timeoutMs: number): Promise<void> {
    let last = '';
    let since = performance.now();
    await until(
      'the CCM to go quiet',
      () => {
        const now = `${this.sim.requests.count()}/${this.ccmWrites().length}`;
        if (now !== last) {
          last = now;
          since = performance.now();
        }
        return performance.now() - since >= quietMs;
      },
      timeoutMs,
      500,
    );
  }

  /** The CCM's writes as the apiserver audited them (its user agent), from `since` (epoch ms). */
  ccmWrites(since = 0): AuditedWrite[] {
    return this.cp
      .auditWrites(since)
      .filter((w) => w.userAgent.startsWith('oxide-cloud-controller-manager'));
  }

  /** Bytes of the CCM's log so far, and the log from a byte offset on. */
  logSize(): number {
    return statSync(join(this.dir, 'ccm.log')).size;
  }

  logFrom(offset: number): string {
    return readFileSync(join(this.dir, 'ccm.log')).subarray(offset).toString();
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
    this.leases?.stop();
    this.abort.abort();
    await this.ccm?.stop();
    await Promise.all(this.running);
    await this.sim?.stop();
    await this.cp.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const memoryRows: Record<string, Cell>[] = [];

/** VmRSS, and of it RssAnon / RssFile, as one row each. */
function rssRows(label: string, flags: string, mem: ProcMemory, peak = false): void {
  memoryRows.push({
    row: `${label} (${peak ? 'VmHWM' : 'VmRSS'})`,
    flags,
    MiB: peak ? mem.hwmMiB : mem.rssMiB,
  });
  memoryRows.push({
    row: '  same, now: anonymous / file-backed (RssAnon / RssFile)',
    flags,
    MiB: `${mem.anonMiB} / ${mem.fileMiB}`,
  });
}

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
const idleRows: Record<string, Cell>[] = [];
const skipped: string[] = [];
const cpuOf = (s: number): number => Math.round(s * 100) / 100;

function heapTable(label: string, h: HeapSummary): void {
  heapRows.push({
    when: label,
    kind: `(live heap total, ${h.objects} objects)`,
    count: '',
    MiB: h.totalMiB,
  });
  for (const t of h.top) heapRows.push({ when: label, kind: t.kind, count: t.count, MiB: t.MiB });
}

/** Writes by kind: "PATCH nodes/status=20, create events=3". */
function writesByKind(writes: readonly AuditedWrite[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of writes)
    out[`${w.verb} ${w.resource}`] = (out[`${w.verb} ${w.resource}`] ?? 0) + 1;
  return out;
}
const countOf = (writes: readonly AuditedWrite[], resources: readonly string[]): number =>
  writes.filter((w) => resources.includes(w.resource.split('/')[0] ?? '')).length;

/** Lines of the CCM's text log whose message starts with `msg` and that match `also`. */
const logLines = (log: string, msg: string, also?: RegExp): number =>
  log.split('\n').filter((l) => l.includes(`"${msg}`) && (also === undefined || also.test(l)))
    .length;

const runs: {
  name: string;
  estimateMs: number;
  targets: string[];
  run: (rig: Rig) => Promise<void>;
}[] = [
  {
    name: 'floor',
    estimateMs: 90_000,
    targets: [],
    async run(rig) {
      const { kubeconfig, token, server } = await rig.cp.start();
      void kubeconfig;
      rig.sim = await startSimulator({ seed: { project: 'k8s' } });
      for (const mode of ['bare', 'tls']) {
        const child = spawn(
          join(repoRoot, 'node_modules', '.bin', 'node'),
          [
            ...imageNodeFlags(ccmTree),
            join(repoRoot, 'bench', 'floor-child.mjs'),
            mode,
            join(repoRoot, 'node_modules', 'undici', 'index.js'),
            server,
            token,
            rig.sim.url,
          ],
          { env: { ...process.env, ...imageEnv(ccmTree) }, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        try {
          await new Promise<void>((resolve, reject) => {
            child.stdout.on('data', (d: Buffer) => {
              if (d.toString().includes('ready')) resolve();
            });
            child.once('exit', (code) => reject(new Error(`floor child exited with ${code}`)));
          });
          await new Promise((r) => setTimeout(r, IDLE_MS));
          const mem = procMemory(child.pid ?? 0);
          rssRows(
            mode === 'bare'
              ? 'floor: bare Node.js, image flags and ENV, idle 30 s'
              : 'floor: same + undici, one TLS/HTTP2 request and one HTTP request, idle 30 s',
            'image',
            mem,
          );
        } finally {
          child.kill('SIGKILL');
        }
      }
    },
  },
  {
    name: 'nodes100',
    estimateMs: 60_000,
    targets: [],
    async run(rig) {
      await rig.start(100, []);
      const idle = rig.ccm.memory();
      const cpu0 = rig.ccm.cpuSeconds();
      rig.sim.requests.reset();
      const t = await rig.join(100, 120_000);
      const ops = rig.sim.requests.byOperation();
      const mem = rig.ccm.memory();
      rssRows('started, 0 Nodes', 'default', idle);
      await v8Row(rig, '  same', 'default');
      rssRows('peak, 100 Nodes joining', 'default', mem, true);
      speedRows.push({
        row: '100 Nodes join',
        flags: 'default (QPS 20)',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': cpuOf(rig.ccm.cpuSeconds() - cpu0),
      });
      callRows.push({
        row: 'init, 100 Nodes',
        'Oxide/unit': formatRatio(sumOps(ops) / 100),
        calls: formatOps(ops, 100),
      });
    },
  },
  {
    name: 'nodes1000',
    estimateMs: 60_000 + (CHURN / CHURN_BATCH) * 25_000,
    targets: [
      'burst500-cpu',
      'burst500-peak',
      'burst500-time',
      'first-node',
      'init-calls',
      'churn-heap',
    ],
    async run(rig) {
      await rig.start(1000, FAST);
      const cpu0 = rig.ccm.cpuSeconds();
      rig.sim.requests.reset();
      const t = await rig.join(1000, 180_000);
      const cpu = rig.ccm.cpuSeconds() - cpu0;
      const ops = rig.sim.requests.byOperation();
      const mem = rig.ccm.memory();
      rssRows('peak, 1000 Nodes joining', 'QPS 500', mem, true);
      speedRows.push({
        row: '1000 Nodes join',
        flags: 'QPS 500 / burst 1000',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': cpuOf(cpu),
      });
      callRows.push({
        row: 'init, 1000 Nodes',
        'Oxide/unit': formatRatio(sumOps(ops) / 1000),
        calls: formatOps(ops, 1000),
      });
      card.record('burst500-cpu', cpu);
      card.record(
        'burst500-peak',
        mem.hwmMiB,
        `RssAnon ${mem.anonMiB} + RssFile ${mem.fileMiB} after the burst`,
      );
      card.record('burst500-time', t.allMs / 1000);
      card.record('first-node', t.firstMs / 1000);
      card.record('init-calls', sumOps(ops) / 1000);

      if (CHURN > 0) {
        await rig.oxideQuiet(2000, 60_000);
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
          card.record(
            'churn-heap',
            growthPct(warm.totalMiB, after.totalMiB),
            `${warm.totalMiB} → ${after.totalMiB} MiB; from 0 Services: ${growth(before.totalMiB, after.totalMiB)}`,
          );
        }
      }
    },
  },
  {
    name: 'idle1000',
    estimateMs: REFRESH_MS + IDLE_MINUTES * 60_000 + 240_000,
    targets: [
      'burst20-cpu',
      'svc-ingress',
      'svc-calls',
      'idle-cpu',
      'idle-events',
      'idle-node-writes',
      'idle-service-writes',
      'idle-resyncs',
      'idle-dropped',
      'idle-refresh-calls',
      'idle-rss',
    ],
    async run(rig) {
      const N = IDLE_NODES;
      const S = IDLE_SERVICES;
      // Judged only at the size the targets are for.
      const judged = N === 1000 && S === 200;
      const record = (id: string, value: number, note = ''): void => {
        if (judged) card.record(id, value, note);
        else card.notRun(id, `idle run at ${N} Nodes + ${S} Services`);
      };
      const size = `${N} Nodes + ${S} LB Services`;
      await rig.start(N, []);
      const cpu0 = rig.ccm.cpuSeconds();
      const t = await rig.join(N, 300_000);
      const joinCpu = rig.ccm.cpuSeconds() - cpu0;
      speedRows.push({
        row: `${N} Nodes join`,
        flags: 'default (QPS 20)',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': cpuOf(joinCpu),
      });
      record('burst20-cpu', joinCpu);
      // From here on every Node's kubelet renews its Lease every 10 s, as in a live cluster.
      rig.leases = new KubeletLeases(
        rig.harness,
        Array.from({ length: N }, (_, i) => `node-${i}`),
      );
      await rig.leases.start();
      await rig.oxideQuiet(2000, 60_000);
      rig.sim.requests.reset();
      const names = Array.from({ length: S }, (_, i) => `svc-${i}`);
      const ms = await rig.createServices('lb', names, 300_000);
      const ops = rig.sim.requests.byOperation();
      speedRows.push({
        row: `${S} LB Services → all ingress (${N} Nodes)`,
        flags: 'default',
        'first Node (s)': '',
        'all init (s)': seconds(ms),
        'CPU (s)': '',
      });
      callRows.push({
        row: `create, ${S} LB Services`,
        'Oxide/unit': formatRatio(sumOps(ops) / S),
        calls: formatOps(ops, S),
      });
      record('svc-ingress', ms / 1000);
      record('svc-calls', sumOps(ops) / S);

      // Settle: the first address refresh after the Services got their floating IPs writes each
      // FIP as its Node's ExternalIP (a real change, once; the Go CCM writes it too). What that
      // refresh costs is a row of its own; the idle window starts after it.
      const settleStart = Date.now();
      const settleCpu = rig.ccm.cpuSeconds();
      const settleLog = rig.logSize();
      rig.sim.requests.reset();
      await new Promise((r) => setTimeout(r, IDLE_MS));
      rssRows(`idle, ${size}, after 30 s`, 'default', rig.ccm.memory());
      await v8Row(rig, '  same', 'default');
      const firstRefresh = rig.readyAt + REFRESH_MS;
      await until(
        'the first address refresh',
        () => performance.now() > firstRefresh,
        REFRESH_MS + 60_000,
        1000,
      );
      await rig.ccmQuiet(10_000, 300_000);
      const settleWrites = rig.ccmWrites(settleStart);
      const settleText = rig.logFrom(settleLog);
      const settleOxide = rig.sim.requests.byOperation();
      idleRows.push(
        {
          phase: 'the first refresh after the Services (FIPs become ExternalIPs)',
          measure: 'CPU (utime+stime)',
          value: `${cpuOf(rig.ccm.cpuSeconds() - settleCpu)} s`,
        },
        {
          phase: '',
          measure: 'apiserver writes by the CCM',
          value: formatOps(writesByKind(settleWrites)) || 'none',
        },
        {
          phase: '',
          measure: 'Service re-syncs (result updated/ensured)',
          value: logLines(settleText, 'service synced', /result="(updated|ensured)"/),
        },
        {
          phase: '',
          measure: 'Oxide calls',
          value: `${sumOps(settleOxide)}: ${formatOps(settleOxide)}`,
        },
      );

      const windowStart = Date.now();
      const windowStartedAt = performance.now();
      const cpuStart = rig.ccm.cpuSeconds();
      const logStart = rig.logSize();
      const nodeAdds0 = await nodeQueueAdds(rig);
      rig.sim.requests.reset();
      // Memory 5 min into the idle window.
      let mem5: ProcMemory | undefined;
      const fiveMin = setTimeout(() => (mem5 = rig.ccm.memory()), 300_000);
      // The refreshes at readyAt + 2, 3, … periods fall inside (two for 10 minutes): the window
      // lasts IDLE_MINUTES and at least until the last of them has finished.
      const lastRefresh =
        rig.readyAt + (1 + Math.ceil((IDLE_MINUTES * 60_000) / REFRESH_MS)) * REFRESH_MS;
      await until(
        'the idle window',
        () =>
          performance.now() - windowStartedAt >= IDLE_MINUTES * 60_000 &&
          performance.now() > lastRefresh,
        IDLE_MINUTES * 60_000 + 2 * REFRESH_MS,
        1000,
      );
      await rig.ccmQuiet(10_000, 300_000);
      clearTimeout(fiveMin);
      const windowS = (performance.now() - windowStartedAt) / 1000;
      const cpu = rig.ccm.cpuSeconds() - cpuStart;
      const memEnd = rig.ccm.memory();
      const oxide = rig.sim.requests.byOperation();
      const refreshes = Math.round(((await nodeQueueAdds(rig)) - nodeAdds0) / N);
      const writes = rig.ccmWrites(windowStart);
      const log = rig.logFrom(logStart);
      const wholeLog = rig.logFrom(0);
      const events = countOf(writes, ['events']);
      const nodeWrites = countOf(writes, ['nodes']);
      const serviceWrites = countOf(writes, ['services']);
      const resyncs = logLines(log, 'service synced', /result="(updated|ensured)"/);
      const dropped = logLines(wholeLog, 'event queue full; dropping event');
      const cpuPer10 = (cpu * 600) / windowS;
      const perRefresh = sumOps(oxide) / Math.max(1, refreshes) / N;
      const phase = `idle window (${size})`;
      idleRows.push(
        {
          phase,
          measure: 'length',
          value: `${seconds(windowS * 1000)} s, ${refreshes} address refreshes, ${rig.leases.renewals} Lease renewals since start (${rig.leases.failures} failed)`,
        },
        {
          phase: '',
          measure: 'CPU (utime+stime)',
          value: `${cpuOf(cpu)} s (${cpuOf(cpuPer10)} s per 10 min)`,
        },
        {
          phase: '',
          measure: 'apiserver writes by the CCM',
          value: formatOps(writesByKind(writes)) || 'none',
        },
        { phase: '', measure: 'Service re-syncs (result updated/ensured)', value: resyncs },
        { phase: '', measure: 'Oxide calls', value: `${sumOps(oxide)}: ${formatOps(oxide)}` },
        { phase: '', measure: 'Oxide calls per refresh per Node', value: formatRatio(perRefresh) },
        { phase: '', measure: 'Events dropped for a full queue (whole run)', value: dropped },
      );
      record('idle-cpu', cpuPer10, `${cpuOf(cpu)} s in ${Math.round(windowS)} s`);
      record('idle-events', events);
      record('idle-node-writes', nodeWrites);
      record('idle-service-writes', serviceWrites);
      record('idle-resyncs', resyncs);
      record('idle-dropped', dropped);
      record('idle-refresh-calls', perRefresh, formatOps(oxide, Math.max(1, refreshes) * N));
      if (mem5) {
        rssRows(`idle, ${size}, 5 min into the idle window`, 'default', mem5);
        record('idle-rss', mem5.rssMiB, `RssAnon ${mem5.anonMiB} + RssFile ${mem5.fileMiB}`);
      }
      rssRows(`idle, ${size}, end of the idle window`, 'default', memEnd);
      await v8Row(rig, '  same', 'default');
      rssRows('  same, peak since start', 'default', memEnd, true);
    },
  },
  {
    name: 'nodes5000',
    estimateMs: 360_000,
    targets: ['idle5000-rss', 'peak5000-rss'],
    async run(rig) {
      await rig.start(5000, FAST);
      await rig.join(5000, 300_000);
      const names = Array.from({ length: 1000 }, (_, i) => `svc-${i}`);
      await rig.createServices('lb', names, 300_000);
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const mem = rig.ccm.memory();
      rssRows('idle, 5000 Nodes + 1000 LB Services, after 30 s', 'QPS 500', mem);
      await v8Row(rig, '  same', 'QPS 500');
      rssRows('  same, peak since start', 'QPS 500', mem, true);
      card.record('idle5000-rss', mem.rssMiB, `RssAnon ${mem.anonMiB} + RssFile ${mem.fileMiB}`);
      card.record('peak5000-rss', mem.hwmMiB);
    },
  },
  {
    name: 'nodes10000',
    estimateMs: 300_000,
    targets: ['nodes10000-time'],
    async run(rig) {
      await rig.start(10_000, FAST);
      const cpu0 = rig.ccm.cpuSeconds();
      rig.sim.requests.reset();
      const t = await rig.join(10_000, 600_000);
      const cpu = rig.ccm.cpuSeconds() - cpu0;
      const ops = rig.sim.requests.byOperation();
      const mem = rig.ccm.memory();
      speedRows.push({
        row: '10 000 Nodes join',
        flags: 'QPS 500 / burst 1000',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': cpuOf(cpu),
      });
      callRows.push({
        row: 'init, 10 000 Nodes',
        'Oxide/unit': formatRatio(sumOps(ops) / 10_000),
        calls: formatOps(ops, 10_000),
      });
      rssRows('peak, 10 000 Nodes joining', 'QPS 500', mem, true);
      card.record(
        'nodes10000-time',
        t.allMs / 1000,
        `peak RSS ${mem.hwmMiB} MiB, CPU ${cpuOf(cpu)} s`,
      );
    },
  },
  {
    name: 'fallback1000',
    estimateMs: 180_000,
    targets: ['fallback-init-calls', 'fallback-walks'],
    async run(rig) {
      await rig.start(1000, FAST);
      // An Oxide (or a proxy in front of it) that refuses the project-wide NIC walk.
      rig.sim.faults.add({ operation: 'vpc_list', status: 403 });
      rig.sim.requests.reset();
      const t = await rig.join(1000, 180_000);
      const ops = rig.sim.requests.byOperation();
      callRows.push({
        row: 'init, 1000 Nodes, vpc_list refused',
        'Oxide/unit': formatRatio(sumOps(ops) / 1000),
        calls: formatOps(ops, 1000),
      });
      speedRows.push({
        row: '1000 Nodes join, vpc_list refused',
        flags: 'QPS 500 / burst 1000',
        'first Node (s)': seconds(t.firstMs),
        'all init (s)': seconds(t.allMs),
        'CPU (s)': '',
      });
      card.record('fallback-init-calls', sumOps(ops) / 1000);
      const walks0 = ops['vpc_list'] ?? 0;
      rig.sim.requests.reset();
      const names = Array.from({ length: 200 }, (_, i) => `svc-${i}`);
      await rig.createServices('lb', names, 300_000);
      const svcOps = rig.sim.requests.byOperation();
      callRows.push({
        row: 'create, 200 LB Services, vpc_list refused',
        'Oxide/unit': formatRatio(sumOps(svcOps) / 200),
        calls: formatOps(svcOps, 200),
      });
      const warned = logLines(rig.logFrom(0), "cannot list the project's NICs");
      card.record(
        'fallback-walks',
        walks0 + (svcOps['vpc_list'] ?? 0),
        `warning logged ${warned} time(s)`,
      );
    },
  },
];

/** VmRSS, RssAnon, RssFile, VmHWM of any process, MiB. */
function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string): number =>
    Math.round((Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024) * 10) /
    10;
  return {
    hwmMiB: mib('VmHWM'),
    rssMiB: mib('VmRSS'),
    anonMiB: mib('RssAnon'),
    fileMiB: mib('RssFile'),
  };
}

/** workqueue_adds_total of the node controller's queue ("Nodes"): a refresh adds every Node. */
async function nodeQueueAdds(rig: Rig): Promise<number> {
  const text = await rig.ccm.get('/metrics');
  const line = text.split('\n').find((l) => l.startsWith('workqueue_adds_total{name="Nodes"}'));
  return Number(line?.split(' ')[1] ?? NaN);
}

console.error('bench: make bundle');
execFileSync(join(repoRoot, 'node_modules', '.bin', 'node'), ['hack/bundle.ts'], {
  cwd: repoRoot,
  stdio: ['ignore', 'ignore', 'inherit'],
});

let nodeFlags: string[] = [];
for (const r of runs) {
  if (ONLY && !ONLY.includes(r.name)) {
    for (const id of r.targets) card.notRun(id, `run ${r.name} not picked (BENCH_RUNS)`);
    continue;
  }
  const left = BUDGET_MS - (performance.now() - benchStarted);
  if (left < r.estimateMs) {
    const why = `${r.name} (needs ~${Math.round(r.estimateMs / 1000)} s, ${Math.round(left / 1000)} s left of BENCH_BUDGET_S)`;
    skipped.push(why);
    for (const id of r.targets) card.notRun(id, `skipped: ${why}`);
    continue;
  }
  const rig = new Rig();
  const started = performance.now();
  try {
    await r.run(rig);
    if (r.name !== 'floor') nodeFlags = rig.ccm.nodeFlags;
  } catch (err) {
    const why = `${r.name} failed: ${String(err).slice(0, 300)}`;
    skipped.push(`${why}; CCM log:\n${rig.ccm?.logTail(5) ?? ''}`);
    for (const id of r.targets) card.notRun(id, why);
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
if (idleRows.length > 0)
  printTable(
    [
      `Idle: ${IDLE_NODES} Nodes + ${IDLE_SERVICES} LB Services, nothing changing for ${IDLE_MINUTES} min after the first address refresh; kubelet Leases renewed every 10 s by this process; writes from the apiserver's audit log (the CCM's user agent), re-syncs and drops from the CCM's log`,
    ],
    idleRows,
  );
if (heapRows.length > 0) printTable(['Live heap by kind (heap snapshot, self sizes)'], heapRows);
if (skipped.length > 0) console.log(`Not run: ${skipped.join('; ')}`);
card.print([`Machine: ${machine()}`]);
