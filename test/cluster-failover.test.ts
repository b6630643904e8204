// Load-balancer failover on the real-cluster bed with PRODUCTION timings (kubelet Lease 40 s,
// renewed every 10 s; kube-controller-manager's default node monitor period and grace period):
// the CCM moves a floating IP off a Node that fails, before kube-controller-manager marks it
// NotReady, on each of its three early signals, and moves nothing when every Lease goes stale at
// once or when renewals merely run late. Timings are printed as test diagnostics
// (docs/troubleshooting.md quotes them); what is asserted is that the move happened while the
// Node was still Ready (so it was the early signal, not NotReady), and why the event says it did.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { FailoverBed, lateRenewals } from './harness/failover-bed.ts';

const NODES = {
  hung: ['hd-a', 'hd-b', 'hd-c'],
  stopped: ['is-a', 'is-b', 'is-c'],
  kubelet: ['kd-a', 'kd-b'],
  disruption: ['fd-a', 'fd-b', 'fd-c'],
  local: ['lc-a', 'lc-b'],
  late: Array.from({ length: 10 }, (_, i) => `nf-${i}`),
  notReady: ['np-a', 'np-b'],
};
/** The no-flap scenario's length (s); hack/failover-soak.ts runs it for 30 minutes. */
const LATE_SECONDS = Number(process.env.FAILOVER_NOFLAP_SECONDS ?? 60);

let bed: FailoverBed;

before(async () => {
  const t0 = performance.now();
  bed = await FailoverBed.start({ instances: Object.values(NODES).flat() });
  console.log(`# bed up in ${secs(performance.now() - t0)}`);
});

after(async () => {
  await bed?.stop();
});

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function report(t: TestContext, lines: Record<string, number>): void {
  for (const [what, ms] of Object.entries(lines)) t.diagnostic(`${what}: ${secs(ms)}`);
}

/** Nodes joined for one scenario, removed when it ends however it ends. */
async function joinFor(t: TestContext, names: string[], health = true): Promise<void> {
  t.after(() => bed.removeNodes(names));
  await bed.joinNodes(names, { health });
}

/** A LoadBalancer Service whose floating IP is attached; returns the holder. */
async function serviceOn(t: TestContext, ns: string, name = 'web'): Promise<string> {
  await bed.namespace(ns);
  await bed.loadBalancer(ns, name);
  t.after(() =>
    bed.kube.delete(`/api/v1/namespaces/${ns}/services/${name}`).catch(() => undefined),
  );
  return bed.until('floating IP attached', () => bed.holder(ns, name));
}

/** The single MovedLoadBalancer event of the namespace's Service. */
async function moveEvent(ns: string): Promise<string> {
  const events = await bed.until('MovedLoadBalancer event', async () => {
    const list = await bed.events(ns, 'MovedLoadBalancer');
    return list.length > 0 ? list : undefined;
  });
  assert.equal(events.length, 1, 'one event per move');
  assert.equal(events[0]?.type, 'Normal');
  return events[0]?.message ?? '';
}

test('a hung data plane (health endpoint stops answering; Lease renewed, instance running): the floating IP moves on the health checks', async (t) => {
  await joinFor(t, NODES.hung);
  const ns = 'hung';
  const holder = await serviceOn(t, ns);
  // The target and the spares have passed their checks a few times.
  const passed = await bed.metric('oxide_ccm_lb_health_checks_total', { result: 'pass' });
  await bed.until('health checks passing', async () => {
    const now = await bed.metric('oxide_ccm_lb_health_checks_total', { result: 'pass' });
    return now >= passed + 6;
  });
  const before = await bed.metric('oxide_ccm_lb_failovers_total', { reason: 'health_check' });

  const stopped = performance.now();
  await bed.stopHealth(holder);
  const to = await bed.until(`floating IP off ${holder}`, () => {
    const h = bed.holder(ns, 'web');
    return h !== holder ? h : undefined;
  });
  const movedAt = performance.now();
  assert.equal(
    await bed.ready(holder),
    'True',
    'moved while the Node is Ready: the health checks did it',
  );
  assert.ok(NODES.hung.includes(to));
  const message = await moveEvent(ns);
  assert.equal(
    message,
    `Moved load balancer from node ${holder} to node ${to}: health check failed`,
  );
  assert.equal(
    await bed.metric('oxide_ccm_lb_failovers_total', { reason: 'health_check' }),
    before + 1,
  );
  report(t, { 'health endpoint stopped → floating IP on another instance': movedAt - stopped });

  // It comes back: no move back while the new target is healthy (hysteresis).
  await bed.startHealth(holder);
  await new Promise((r) => setTimeout(r, 8_000));
  assert.equal(bed.holder(ns, 'web'), to);
});

test('instance stopped in Oxide (its kubelet and kube-proxy with it): the floating IP moves on the instance state', async (t) => {
  await joinFor(t, NODES.stopped);
  const ns = 'stopped';
  const holder = await serviceOn(t, ns);
  t.after(async () => {
    bed.sim.db.setRunState(holder, 'running');
    await bed.startKubelet(holder).catch(() => undefined);
  });

  const stoppedAt = performance.now();
  bed.sim.db.setRunState(holder, 'stopped');
  await Promise.all([bed.stopKubelet(holder), bed.stopHealth(holder)]);
  const to = await bed.until(`floating IP off ${holder}`, () => {
    const h = bed.holder(ns, 'web');
    return h !== holder ? h : undefined;
  });
  const movedAt = performance.now();
  assert.equal(await bed.ready(holder), 'True', 'moved while the Node is Ready');
  assert.equal(
    await moveEvent(ns),
    `Moved load balancer from node ${holder} to node ${to}: instance stopped`,
  );
  report(t, { 'instance stopped → floating IP on another instance': movedAt - stoppedAt });
});

test('kubelet dead, instance running, no health endpoint reachable at all: the floating IP moves on the stale Lease, before NotReady', async (t) => {
  await joinFor(t, NODES.kubelet, false);
  const ns = 'kubelet';
  const holder = await serviceOn(t, ns);
  t.after(() => bed.startKubelet(holder).catch(() => undefined));

  await bed.stopKubelet(holder);
  const to = await bed.until(`floating IP off ${holder}`, () => {
    const h = bed.holder(ns, 'web');
    return h !== holder ? h : undefined;
  });
  const movedAt = Date.now();
  assert.equal(
    await bed.ready(holder),
    'True',
    'moved before kube-controller-manager said NotReady',
  );
  // kwok has let go of the Lease: its renewTime is the last heartbeat.
  const lastRenewal = await bed.renewTime(holder);
  assert.ok(lastRenewal);
  const message = await moveEvent(ns);
  assert.match(
    message,
    new RegExp(
      `^Moved load balancer from node ${holder} to node ${to}: Lease not renewed for 2\\ds$`,
    ),
  );
  report(t, { 'last Lease renewal → floating IP on another instance': movedAt - lastRenewal });
});

test("externalTrafficPolicy Local: the Service's healthCheckNodePort is checked, and the floating IP moves to the other Node with an endpoint", async (t) => {
  await joinFor(t, NODES.local);
  const ns = await bed.namespace('local');
  await bed.until('default ServiceAccount (KCM)', () =>
    bed.kube.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`).then(() => true),
  );
  // One pod per Node (kube-scheduler spreads them), Running and Ready by kwok.
  await bed.kube.post(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'DoNotSchedule',
              labelSelector: { matchLabels: { app: 'web' } },
            },
          ],
          containers: [{ name: 'web', image: 'registry.invalid/web:1' }],
        },
      },
    },
  });
  t.after(() =>
    bed.kube.delete(`/apis/apps/v1/namespaces/${ns}/deployments/web`).catch(() => undefined),
  );
  const svc = await bed.loadBalancer(ns, 'web', { externalTrafficPolicy: 'Local' });
  t.after(() => bed.kube.delete(`/api/v1/namespaces/${ns}/services/web`).catch(() => undefined));
  const hcPort = svc.spec?.healthCheckNodePort;
  assert.ok(hcPort, 'the apiserver allocated a healthCheckNodePort');
  // kube-proxy answers the Service's health check on every Node with a local endpoint.
  for (const n of NODES.local) await bed.startHealth(n, hcPort);
  const endpoints = await bed.until('a ready endpoint on each Node', async () => {
    const list = await bed.kube.get<{
      items: { endpoints?: { nodeName?: string; conditions?: { ready?: boolean } }[] }[];
    }>(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`);
    const nodes = new Set(
      list.items
        .flatMap((s) => s.endpoints ?? [])
        .filter((e) => e.conditions?.ready)
        .map((e) => e.nodeName),
    );
    return NODES.local.every((n) => nodes.has(n)) ? nodes : undefined;
  });
  assert.equal(endpoints.size, 2);
  // Where the endpoints first showed up may have moved it once already (a Local move, its own
  // event): what counts is the move the health check makes from here.
  const holder = await bed.until('floating IP attached', () => bed.holder(ns, 'web'));
  const earlier = (await bed.events(ns, 'MovedLoadBalancer')).length;
  const passed = await bed.metric('oxide_ccm_lb_health_checks_total', { result: 'pass' });
  await bed.until(
    'health checks passing',
    async () =>
      (await bed.metric('oxide_ccm_lb_health_checks_total', { result: 'pass' })) >= passed + 6,
  );

  // The Service's check fails on the holder; kube-proxy's own /healthz there still passes.
  const stopped = performance.now();
  await bed.stopHealth(holder, hcPort);
  const to = await bed.until(`floating IP off ${holder}`, () => {
    const h = bed.holder(ns, 'web');
    return h !== holder ? h : undefined;
  });
  assert.ok(NODES.local.includes(to));
  const moves = await bed.until('MovedLoadBalancer event', async () => {
    const list = await bed.events(ns, 'MovedLoadBalancer');
    return list.length > earlier ? list.slice(earlier) : undefined;
  });
  assert.deepEqual(
    moves.map((e) => e.message),
    [`Moved load balancer from node ${holder} to node ${to}: health check failed`],
  );
  report(t, {
    'healthCheckNodePort stopped → floating IP on the other endpoint Node':
      performance.now() - stopped,
  });
});

test('full disruption: every Lease stale at once → nothing moves, said once in the log and in a metric', async (t) => {
  await joinFor(t, NODES.disruption);
  const ns = 'disruption';
  const holder = await serviceOn(t, ns);
  t.after(async () => {
    for (const n of NODES.disruption) await bed.startKubelet(n).catch(() => undefined);
  });
  const said = bed.logLines('most kubelet Leases are stale').length;

  const t0 = performance.now();
  await Promise.all(NODES.disruption.map((n) => bed.stopKubelet(n)));
  await bed.until('full disruption metric', async () =>
    (await bed.metric('oxide_ccm_lb_failover_full_disruption')) === 1 ? true : undefined,
  );
  const detectedAt = performance.now();
  // Until kube-controller-manager's grace period would take every Node away anyway.
  while (performance.now() - t0 < 38_000) {
    assert.equal(bed.holder(ns, 'web'), holder, 'nothing moves');
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(await bed.events(ns, 'MovedLoadBalancer'), []);
  assert.equal(bed.logLines('most kubelet Leases are stale').length, said + 1, 'said once');

  for (const n of NODES.disruption) await bed.startKubelet(n);
  await bed.until('full disruption over', async () =>
    (await bed.metric('oxide_ccm_lb_failover_full_disruption')) === 0 ? true : undefined,
  );
  assert.equal(bed.holder(ns, 'web'), holder);
  report(t, { 'all kubelets stopped → full disruption declared': detectedAt - t0 });
});

test(`no flap: renewals late by up to one interval and the apiserver paused for 20 s → 0 moves (${LATE_SECONDS} s)`, async (t) => {
  await joinFor(t, NODES.late);
  const r = await lateRenewals(bed, 'late', NODES.late, NODES.late.length, LATE_SECONDS, [0.3]);
  assert.equal(r.moves, 0);
  assert.equal(r.events, 0);
  t.diagnostic(
    `${r.services} Services on ${NODES.late.length} Nodes, ${LATE_SECONDS} s, ${r.pauses} pause: 0 moves`,
  );
});

test("today's path, measured for comparison: --lb-failover=none moves only after kube-controller-manager's NotReady", async (t) => {
  await bed.restartCcm(['--lb-failover=none']);
  await joinFor(t, NODES.notReady, false);
  const ns = 'notready';
  const holder = await serviceOn(t, ns);
  t.after(() => bed.startKubelet(holder).catch(() => undefined));
  await bed.stopKubelet(holder);
  await bed.until(`floating IP off ${holder}`, () => {
    const h = bed.holder(ns, 'web');
    return h !== holder ? h : undefined;
  });
  const movedAt = Date.now();
  assert.notEqual(await bed.ready(holder), 'True', 'moved only once NotReady');
  const lastRenewal = await bed.renewTime(holder);
  assert.ok(lastRenewal);
  assert.match(await moveEvent(ns), /: Node not Ready$/);
  report(t, {
    'last Lease renewal → floating IP on another instance (NotReady path)': movedAt - lastRenewal,
  });
});
