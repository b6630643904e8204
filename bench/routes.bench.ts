// N Nodes with pod CIDRs: the real RouteController with the real Oxide route provider against the
// simulator (50 ms per Oxide request) and a real kube-apiserver. Phases per row: create (Nodes
// arrive with providerID and a /24 each, as after node IPAM and the node controller; time until
// every route exists on the cluster router and every Node says NetworkUnavailable=False), steady
// state (one more reconcile with nothing to do), delete (every Node deleted; time until every
// route is gone). Counts Oxide calls and Kubernetes requests per Node, and peak memory.
// Printed for the record, never asserted. Run: node_modules/.bin/node bench/routes.bench.ts
import type { V1Node } from '@kubernetes/client-node';
import { RouteController } from '../src/controllers/route/controller.ts';
import { deleteNode } from '../test/harness/nodes.ts';
import {
  collectGarbage,
  formatOps,
  formatRatio,
  inParallel,
  machine,
  MemorySampler,
  printTable,
  runScenarios,
  seconds,
  sumOps,
  until,
} from './lib.ts';
import type { Cell } from './lib.ts';
import { type KubeRate, measurePhase, OXIDE_LATENCY_MS, startOxideRow } from './oxide-row.ts';

const CLUSTER = 'kubernetes';
const CLUSTER_CIDR = '10.0.0.0/8';
/** Long enough that only Node events trigger a reconcile during a phase (default 10 s). */
const PERIOD_MS = 3_600_000;
const PHASE_TIMEOUT_MS = 600_000;

interface Scenario extends KubeRate {
  nodes: number;
}

const scenarios: Scenario[] = [
  { nodes: 100, qps: 20, burst: 30 },
  { nodes: 1000, qps: 20, burst: 30 },
  { nodes: 1000, qps: 200, burst: 300 },
];

/** The real RouteController, counting finished reconciles so a pass can be waited for. */
class CountingRouteController extends RouteController {
  reconciles = 0;
  override async reconcile(): Promise<void> {
    try {
      await super.reconcile();
    } finally {
      this.reconciles += 1;
    }
  }
}

/** A busy machine can time a create out after the apiserver stored it: retry, 409 is done. */
async function withRetries(create: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await create();
      return;
    } catch (err) {
      if (/409|AlreadyExists/i.test(String(err))) return;
      if (attempt >= 3) throw err;
    }
  }
}

/** 10.<i / 256>.<i % 256>.0/24: a distinct /24 per Node inside the cluster CIDR. */
const podCIDR = (i: number): string => `10.${Math.floor(i / 256)}.${i % 256}.0/24`;

async function run(kubeconfig: string, s: Scenario, row: number): Promise<Record<string, Cell>[]> {
  const prefix = `rt${row}`;
  const names = Array.from({ length: s.nodes }, (_, i) => `${prefix}-${i}`);
  const { kube, admin, env, stop } = await startOxideRow(
    kubeconfig,
    s,
    names.map((name, i) => ({
      name,
      nics: [{ primary: true, v4: 'auto', transitIps: [podCIDR(i)] }],
    })),
    CLUSTER,
  );
  const { sim, ctx } = env;
  const router = () => sim.db.routers.find((r) => r.name === `${CLUSTER}-pods`);
  const routeCount = (): number => {
    const id = router()?.id;
    return id ? sim.db.routes.filter((r) => r.vpcRouterId === id).length : 0;
  };
  const routes = new CountingRouteController(ctx, {
    clusterCIDRs: [CLUSTER_CIDR],
    periodMs: PERIOD_MS,
  });
  const rows: Record<string, Cell>[] = [];
  const setting = { Nodes: s.nodes, 'QPS/burst': `${s.qps}/${s.burst}` };
  const phase = async (name: string, act: () => Promise<void>, done: () => Promise<boolean>) => {
    collectGarbage();
    const memory = new MemorySampler().start();
    const p = await measurePhase(sim, kube, async () => {
      await act();
      await until(name, done, PHASE_TIMEOUT_MS, 250);
    });
    const mem = memory.stop();
    rows.push({
      ...setting,
      phase: name,
      'time (s)': seconds(p.ms),
      'Oxide/Node': formatRatio(sumOps(p.oxide) / s.nodes),
      'kube/Node': formatRatio(p.kube / s.nodes),
      'peak RSS (MiB)': mem.rssMiB,
      'peak heap (MiB)': mem.heapMiB,
      'Oxide calls per Node': formatOps(p.oxide, s.nodes),
    });
  };

  try {
    env.start(routes);
    await ctx.informers.waitForSync(env.signal);
    await until('first reconcile', () => routes.reconciles > 0, 60_000);

    const unavailable = async (): Promise<number> => {
      const list = await admin.get<{ items: V1Node[] }>('/api/v1/nodes');
      return list.items.filter(
        (n) =>
          n.metadata?.name?.startsWith(`${prefix}-`) &&
          n.status?.conditions?.some(
            (c) => c.type === 'NetworkUnavailable' && c.status === 'False',
          ),
      ).length;
    };
    await phase(
      'create',
      () =>
        inParallel(names, 20, async (name) => {
          const i = Number(name.slice(prefix.length + 1));
          const inst = sim.db.instances.find((x) => x.name === name);
          await withRetries(() =>
            admin.post('/api/v1/nodes', {
              apiVersion: 'v1',
              kind: 'Node',
              metadata: { name },
              spec: {
                providerID: `oxide://${inst?.id}`,
                podCIDR: podCIDR(i),
                podCIDRs: [podCIDR(i)],
              },
            }),
          );
        }),
      async () => routeCount() === s.nodes && (await unavailable()) === s.nodes,
    );
    const before = routes.reconciles;
    await phase(
      'steady (1 reconcile)',
      () => routes.reconcile(),
      () => Promise.resolve(routes.reconciles > before),
    );
    await phase(
      'delete',
      () => inParallel(names, 100, (name) => deleteNode(admin, name)),
      () => Promise.resolve(routeCount() === 0),
    );
    return rows;
  } finally {
    await stop();
  }
}

const results = await runScenarios('routes', scenarios, run);
printTable(
  [
    `Routes: N Nodes with pod CIDRs; RouteController (Node events trigger a reconcile, period out of the way), OxideCloudProvider routes, simulator latency ${OXIDE_LATENCY_MS} ms/request, real kube-apiserver on loopback.`,
    `Machine: ${machine()}`,
    `"create": first Node created to the last route on the router and NetworkUnavailable=False on every Node. "steady": one reconcile with every route present. "delete": Nodes deleted to no route left. "kube": controller requests (watches excluded), counted until event writes drained.`,
  ],
  results.flat(),
);
