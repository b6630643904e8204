// S LoadBalancer Services on initialized Nodes: the real ServiceController with the real Oxide
// load balancer against the simulator (50 ms per Oxide request) and a real kube-apiserver.
// Phases per row: create (time until every Service has ingress), steady state (one periodic
// resync pass forced), failover (the target Node of one Service goes NotReady: time until its
// FIP is attached elsewhere and its status shows the new Node), delete (time until every
// Service and FIP is gone). Counts Oxide calls and Kubernetes requests per Service per phase.
// Printed for the record, never asserted. Run: node_modules/.bin/node bench/service-lb.bench.ts
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { ServiceController } from '../src/controllers/service/controller.ts';
import { Informer } from '../src/kube/informer.ts';
import { createKubeletNode, setNodeReady } from '../test/harness/nodes.ts';
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
import {
  type KubeRate,
  measurePhase,
  OXIDE_LATENCY_MS,
  type Phase,
  startOxideRow,
} from './oxide-row.ts';

const NODES = 10;
/**
 * The controller's periodic resync interval; never elapses during a row. The benchmark keeps
 * the timer's callback and fires it once to force exactly one resync pass.
 */
const RESYNC_PERIOD_MS = 3_600_001;
const PHASE_TIMEOUT_MS = 180_000;

interface Scenario extends KubeRate {
  services: number;
  workers: number;
}

const scenarios: Scenario[] = [
  { services: 20, workers: 1, qps: 20, burst: 30 },
  { services: 20, workers: 1, qps: 200, burst: 300 },
  { services: 200, workers: 10, qps: 20, burst: 30 },
  { services: 200, workers: 10, qps: 200, burst: 300 },
];

/** The real ServiceController, counting finished reconciles so a pass can be waited for. */
class CountingServiceController extends ServiceController {
  reconciles = 0;
  override async reconcile(key: string): Promise<void> {
    try {
      await super.reconcile(key);
    } finally {
      this.reconciles += 1;
    }
  }
}

let forceResync: (() => void) | undefined;
/** Keeps the service controller's periodic-resync callback (recognised by its period). */
function captureResyncTimer(): () => void {
  const real = globalThis.setInterval;
  const patched = (handler: () => void, ms?: number): NodeJS.Timeout => {
    if (ms === RESYNC_PERIOD_MS) forceResync = handler;
    return real(handler, ms);
  };
  globalThis.setInterval = patched as unknown as typeof setInterval;
  return () => {
    globalThis.setInterval = real;
  };
}

const ingressOf = (svc: V1Service | undefined): string[] =>
  (svc?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');

interface Result {
  row: Record<string, Cell>;
  calls: Record<string, Cell>[];
}

async function run(kubeconfig: string, s: Scenario, index: number): Promise<Result> {
  const ns = `lb${index}-${Date.now().toString(36)}`;
  const nodeNames = Array.from({ length: NODES }, (_, i) => `${ns}-node-${i}`);
  const serviceNames = Array.from({ length: s.services }, (_, i) => `svc-${i}`);
  const {
    kube,
    admin: harness,
    env,
    stop,
  } = await startOxideRow(
    kubeconfig,
    s,
    nodeNames.map((name) => ({ name, nics: [{ primary: true, v4: 'auto' }] })),
    undefined,
    ns,
  );
  const { sim, cloud, ctx } = env;
  const restoreTimers = captureResyncTimer();

  const services = new Informer<V1Service>(harness, {
    path: `/api/v1/namespaces/${ns}/services`,
  });
  const nodes = new Informer<V1Node>(harness, { path: '/api/v1/nodes' });
  try {
    // Initialized Nodes as the node controller leaves them: providerID, addresses, Ready.
    await harness.post('/api/v1/namespaces', { metadata: { name: ns } });
    await inParallel(nodeNames, NODES, async (name) => {
      const inst = sim.db.instances.find((i) => i.name === name);
      const providerID = `oxide://${inst?.id ?? ''}`;
      await createKubeletNode(harness, name, { initialized: true, providerID });
      const meta = await cloud.instances().instanceMetadata({ spec: { providerID } });
      await setNodeReady(harness, name, true, meta.nodeAddresses);
    });

    const controller = new CountingServiceController(ctx, {
      workers: s.workers,
      nodeSyncPeriodMs: RESYNC_PERIOD_MS,
    });
    env.start(services, nodes, controller);
    await Promise.all([ctx.informers.waitForSync(env.signal), services.waitForSync()]);
    await nodes.waitForSync();
    await until('the service controller to start', () => forceResync !== undefined, 10_000);

    collectGarbage();
    const memory = new MemorySampler().start();

    let createdMs = 0;
    const create = await measurePhase(sim, kube, async () => {
      const started = performance.now();
      await inParallel(serviceNames, 50, (name) =>
        harness.post(`/api/v1/namespaces/${ns}/services`, {
          metadata: { name },
          spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
        }),
      );
      createdMs = performance.now() - started;
      await until(
        `${s.services} Services with ingress`,
        () => serviceNames.every((n) => ingressOf(services.get(`${ns}/${n}`)).length >= 2),
        PHASE_TIMEOUT_MS,
      );
    });
    const createKube = kube.breakdown(s.services);

    const steady = await measurePhase(sim, kube, async () => {
      const before = controller.reconciles;
      forceResync?.();
      await until(
        'one resync pass',
        () => controller.reconciles - before >= s.services,
        PHASE_TIMEOUT_MS,
      );
    });
    const steadyKube = kube.breakdown(s.services);

    // Failover: the Node that serves svc-0 goes NotReady; every Service on it must move.
    const fipOf = (svcName: string) => {
      const ip = ingressOf(services.get(`${ns}/${svcName}`))[0];
      return sim.db.floatingIps.find((f) => f.ip === ip);
    };
    const victimInstance = fipOf('svc-0')?.instanceId ?? '';
    const victim = sim.db.instances.find((i) => i.id === victimInstance)?.name ?? '';
    const victimIP =
      nodes.get(victim)?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
    const affected = serviceNames.filter((n) => fipOf(n)?.instanceId === victimInstance);
    const moved = new Map<string, number>();
    let failoverStarted = 0;
    const failover = await measurePhase(sim, kube, async () => {
      failoverStarted = performance.now();
      await setNodeReady(harness, victim, false);
      await until(
        `${affected.length} Services to fail over`,
        () => {
          for (const n of affected) {
            if (moved.has(n)) continue;
            const fip = fipOf(n);
            const ingress = ingressOf(services.get(`${ns}/${n}`));
            if (fip?.instanceId && fip.instanceId !== victimInstance && ingress[1] !== victimIP)
              moved.set(n, performance.now() - failoverStarted);
          }
          return moved.size === affected.length;
        },
        PHASE_TIMEOUT_MS,
        5,
      );
    });
    const failoverKube = kube.breakdown();

    const remove = await measurePhase(sim, kube, async () => {
      await inParallel(serviceNames, 50, (name) =>
        harness.delete(`/api/v1/namespaces/${ns}/services/${name}`),
      );
      await until(
        'every Service and floating IP gone',
        () => services.list().length === 0 && sim.db.floatingIps.length === 0,
        PHASE_TIMEOUT_MS,
      );
    });
    const removeKube = kube.breakdown(s.services);
    const mem = memory.stop();

    const perService = (p: Phase): string => formatRatio(sumOps(p.oxide) / s.services);
    const firstMove = Math.min(...moved.values());
    const lastMove = Math.max(...moved.values());
    const label = `${s.services} Services, ${s.workers} worker(s), QPS ${s.qps}/${s.burst}`;
    return {
      row: {
        Services: s.services,
        workers: s.workers,
        'QPS/burst': `${s.qps}/${s.burst}`,
        'created (s)': seconds(createdMs),
        'all ingress (s)': seconds(create.ms),
        'resync pass (s)': seconds(steady.ms),
        'failover svc-0 (s)': seconds(moved.get('svc-0') ?? firstMove),
        [`all moved (s)`]: `${seconds(lastMove)} (${affected.length} Services)`,
        'delete all (s)': seconds(remove.ms),
        'Oxide/Svc create': perService(create),
        'Oxide/Svc resync': perService(steady),
        'Oxide/Svc delete': perService(remove),
        'kube/Svc create': formatRatio(create.kube / s.services),
        'kube/Svc delete': formatRatio(remove.kube / s.services),
        'peak RSS (MiB)': mem.rssMiB,
        'peak heap (MiB)': mem.heapMiB,
      },
      calls: [
        {
          row: label,
          phase: 'create',
          'Oxide calls per Service': formatOps(create.oxide, s.services),
          'kube requests per Service': createKube,
        },
        {
          row: label,
          phase: 'resync',
          'Oxide calls per Service': formatOps(steady.oxide, s.services),
          'kube requests per Service': steadyKube,
        },
        {
          row: label,
          phase: `failover (${affected.length} moved; totals)`,
          'Oxide calls per Service': formatOps(failover.oxide),
          'kube requests per Service': failoverKube,
        },
        {
          row: label,
          phase: 'delete',
          'Oxide calls per Service': formatOps(remove.oxide, s.services),
          'kube requests per Service': removeKube,
        },
      ],
    };
  } finally {
    await stop();
    restoreTimers();
    forceResync = undefined;
    await harness.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
}

const results = await runScenarios('service-lb', scenarios, run);
const header = [
  `Service load balancers: S LoadBalancer Services on ${NODES} Ready Nodes; ServiceController (namespace-scoped) + OxideCloudProvider load balancer, simulator latency ${OXIDE_LATENCY_MS} ms/request, real kube-apiserver on loopback.`,
  `Machine: ${machine()}`,
];
printTable(
  [
    ...header,
    `"all ingress": first create to the last Service with ingress. "resync pass": one forced periodic resync of every Service. "failover": the target Node of svc-0 goes NotReady until its FIP is attached to another instance and its status names the new Node. "kube": controller requests until event writes drained (watches excluded).`,
  ],
  results.map((r) => r.row),
);
printTable(
  ['Calls by operation (per Service; failover: totals for the whole pass)'],
  results.flatMap((r) => r.calls),
);
