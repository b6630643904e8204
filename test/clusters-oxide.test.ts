// Two clusters (two kube-apiservers) and their CCMs against ONE simulator project, each CCM with
// its own token so the simulator's request log attributes every request (docs/clusters.md):
// - both with the default --cluster-name: the second refuses to start, with one error line and
//   /readyz saying why, and writes nothing;
// - with distinct names and a Service same/web in both: each gets its own floating IP;
// - churn in both (LoadBalancer Services created and deleted, the firewall annotation on half,
//   pod-CIDR routes for every Node, each CCM restarted in the middle): no write by either on the
//   other's floating IPs, firewall rules, router or routes, no floating IP ever on the other's
//   instances, none left over, none twice. Scaled for `make test`;
//   OXIDE_CCM_CLUSTERS_CHURN=500 OXIDE_CCM_CLUSTERS_NODES=50 runs the size.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import type { VpcFirewallRule } from '@oxide/api';
import { startSimulator } from '../sim/server.ts';
import type { Simulator } from '../sim/server.ts';
import { clusterIdIn } from '../src/cloud/oxide/cluster.ts';
import { firewallRuleBase } from '../src/cloud/oxide/load-balancer/firewall-rules.ts';
import { ownerOf } from '../src/cloud/oxide/load-balancer/owner.ts';
import { waitFor } from './harness/context.ts';
import {
  ensureNamespace,
  ingressIp,
  loadBalancer,
  runCcm,
  startCluster,
} from './harness/two-clusters.ts';
import type { Cluster, RunningCcm } from './harness/two-clusters.ts';

const CHURN = Number(process.env['OXIDE_CCM_CLUSTERS_CHURN'] ?? 16);
const NODE_COUNT = Number(process.env['OXIDE_CCM_CLUSTERS_NODES'] ?? 3);
const NODES = {
  a: Array.from({ length: NODE_COUNT }, (_, i) => `a-n${i}`),
  b: Array.from({ length: NODE_COUNT }, (_, i) => `b-n${i}`),
};
/** Pod CIDRs: one /24 per Node, a /16 per cluster. */
const CLUSTER_CIDR = { a: '10.244.0.0/16', b: '10.245.0.0/16' };

let sim: Simulator;
let a: Cluster;
let b: Cluster;
const running: RunningCcm[] = [];

before(async () => {
  // A default pool for a thousand floating IPs (the simulator's default /24 holds 241): the
  // shared address space of RFC 6598, which nothing on loopback ever contacts.
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      pools: [
        {
          name: 'default-v4',
          version: 'v4',
          isDefault: true,
          ranges: [{ first: '100.64.0.10', last: '100.64.15.250' }],
        },
      ],
    },
  });
  // One VPC; each cluster's Nodes on a subnet of their own (a subnet takes one custom router).
  sim.db.addSubnet({ name: 'sub-b', ipv4Block: '172.31.0.0/22' });
  for (const name of NODES.a) sim.db.addInstance({ name, nics: [{ primary: true }] });
  for (const name of NODES.b)
    sim.db.addInstance({ name, nics: [{ primary: true, subnet: 'sub-b' }] });
  a = await startCluster(sim, 'cluster-a', NODES.a);
  b = await startCluster(sim, 'cluster-b', NODES.b);
  for (const [cluster, nodes, cidr] of [
    [a, NODES.a, '10.244'],
    [b, NODES.b, '10.245'],
  ] as const) {
    for (const [i, name] of nodes.entries()) {
      const podCIDR = `${cidr}.${i}.0/24`;
      await cluster.kube.patch(`/api/v1/nodes/${name}`, 'merge', {
        spec: { podCIDR, podCIDRs: [podCIDR] },
      });
    }
  }
});

after(async () => {
  for (const ccm of running) await ccm.stop();
  await a?.controlPlane.stop();
  await b?.controlPlane.stop();
  await sim?.stop();
});

/** What an earlier test that failed left running. */
async function stopAll(): Promise<void> {
  for (const ccm of running.splice(0)) await ccm.stop();
}

async function start(cluster: Cluster, clusterName?: string): Promise<RunningCcm> {
  const ccm = await runCcm(sim, cluster, clusterName ? { clusterName } : {});
  running.push(ccm);
  return ccm;
}

/** The service and route controllers, routes for the cluster's pod CIDRs. */
async function startWithRoutes(cluster: Cluster, clusterName: string): Promise<RunningCcm> {
  const ccm = await runCcm(
    sim,
    cluster,
    {
      clusterName,
      allocateNodeCidrs: true,
      configureCloudRoutes: true,
      clusterCidr: cluster === a ? CLUSTER_CIDR.a : CLUSTER_CIDR.b,
      routeReconciliationPeriodMs: 2_000,
    },
    ['service', 'route'],
  );
  running.push(ccm);
  return ccm;
}

async function stop(ccm: RunningCcm): Promise<void> {
  running.splice(running.indexOf(ccm), 1);
  assert.equal(await ccm.stop(), 0);
}

const writesBy = (principal: string) =>
  sim.requests.entries.filter((e) => e.principal === principal && e.method !== 'GET');

test('both with the default --cluster-name: the second refuses to start, says why once, writes nothing', async () => {
  const ccmA = await start(a);
  await ensureNamespace(a.kube, 'same');
  await a.kube.post('/api/v1/namespaces/same/services', loadBalancer('web', 'same'));
  const ipA = await waitFor(
    'A: same/web has its IP',
    () => ingressIp(a.kube, 'same', 'web'),
    60_000,
  );
  const fipA = structuredClone(sim.db.floatingIps.find((f) => f.ip === ipA));
  assert.equal(fipA?.name, 'kubernetes-same-web');
  assert.equal(clusterIdIn(fipA.description), a.uid, "A's identity: its kube-system UID");

  const ccmB = await start(b);
  await ensureNamespace(b.kube, 'same');
  await b.kube.post('/api/v1/namespaces/same/services', loadBalancer('web', 'same'));
  const reason = `another cluster (cluster-id=${a.uid}) uses --cluster-name`;
  const ready = await waitFor(
    'B not ready, with the reason',
    async () => {
      const r = await ccmB.ready();
      return r.status !== 200 && r.body.includes(reason) ? r : undefined;
    },
    60_000,
  );
  assert.match(ready.body, /\[-\]cluster failed: /);
  // Several re-checks later, still one error line, and nothing written by B.
  await new Promise((r) => setTimeout(r, 2_000));
  const lines = ccmB
    .logs()
    .split('\n')
    .filter((l) => l.includes(reason));
  assert.equal(lines.length, 1, ccmB.logs());
  assert.match(lines[0]!, /^E/);
  assert.deepEqual(writesBy('cluster-b'), []);
  assert.equal(await ingressIp(b.kube, 'same', 'web'), undefined);
  assert.deepEqual(
    sim.db.floatingIps.find((f) => f.id === fipA.id),
    fipA,
    "A's floating IP as it was",
  );
  assert.equal((await ccmA.ready()).status, 200);
  await stop(ccmB);
  await stop(ccmA);
});

test('distinct names, same/web in both: each its own floating IP, neither writes to the other', async () => {
  await stopAll();
  const ccmA = await start(a);
  const ccmB = await start(b, 'beta');
  const ipB = await waitFor(
    'B: same/web has its IP',
    () => ingressIp(b.kube, 'same', 'web'),
    60_000,
  );
  const ipA = await ingressIp(a.kube, 'same', 'web');
  assert.ok(ipA);
  assert.notEqual(ipA, ipB);
  const fipB = sim.db.floatingIps.find((f) => f.ip === ipB);
  assert.equal(fipB?.name, 'beta-same-web');
  assert.equal(clusterIdIn(fipB.description), b.uid);
  await waitFor(
    'both ready',
    async () => (await ccmA.ready()).status === 200 && (await ccmB.ready()).status === 200,
  );
  await a.kube.delete('/api/v1/namespaces/same/services/web');
  await b.kube.delete('/api/v1/namespaces/same/services/web');
  await waitFor('both floating IPs deleted', () => sim.db.floatingIps.length === 0, 60_000);
  assertNoCrossWrites();
  await stop(ccmA);
  await stop(ccmB);
});

/**
 * Every write to an existing floating IP, router, or route of a router was by the principal that
 * created the floating IP or router.
 */
function assertNoCrossWrites(): void {
  const creators = sim.requests.creators();
  const cross = sim.requests.entries.filter((e) => {
    if (e.method === 'GET') return false;
    const id =
      /^\/v1\/floating-ips\/([^/]+)/.exec(e.path)?.[1] ??
      /^\/v1\/vpc-routers\/([^/]+)/.exec(e.path)?.[1] ??
      (e.path.startsWith('/v1/vpc-router-routes')
        ? /router=([^&]+)/.exec(e.query)?.[1]
        : undefined);
    if (id === undefined || !creators.has(id)) return false;
    return creators.get(id) !== e.principal;
  });
  assert.deepEqual(
    cross.map((e) => `${e.principal} ${e.method} ${e.path}${e.query}`),
    [],
    "writes on the other cluster's floating IPs, router or routes",
  );
}

test(`churn in both (${CHURN} LoadBalancer Services each, firewall on half, routes for ${NODE_COUNT} Nodes each, each CCM restarted): nothing of the other's touched`, async () => {
  await stopAll();
  const byId = new Map([
    [a.uid, a],
    [b.uid, b],
  ]);
  const clusterOfFip = (description: string): Cluster | undefined => {
    const id = clusterIdIn(description);
    return id === undefined ? undefined : byId.get(id);
  };
  // Firewall rule writes replace a VPC's whole set, and Oxide has no conditional update: a
  // writer sends the other's rules back as it read them. So when the other wrote in between (one
  // round trip), it resends an earlier state of them (a lost update, which the other's verify
  // read or next reconcile repairs: vpc-firewall.ts). What must never happen: a state of the
  // other's rules that the other did not write itself.
  const violations: string[] = [];
  const staleResends: string[] = [];
  const history = new Map<string, Set<string>>([
    [a.principal, new Set([JSON.stringify([])])],
    [b.principal, new Set([JSON.stringify([])])],
  ]);
  const originalSet = sim.db.rules.set.bind(sim.db.rules);
  sim.db.rules.set = (vpc: string, next: VpcFirewallRule[]) => {
    const writer = sim.handling();
    const prior = sim.db.rules.get(vpc) ?? [];
    for (const cluster of [a, b]) {
      const of = (rules: VpcFirewallRule[]) =>
        JSON.stringify(
          rules
            .filter((r) => clusterIdIn(r.description) === cluster.uid)
            .map((r) => JSON.stringify([r.name, r.description, r.targets, r.filters]))
            .sort(),
        );
      const states = history.get(cluster.principal)!;
      if (writer === cluster.principal) states.add(of(next));
      else if (writer !== undefined && of(prior) !== of(next)) {
        if (states.has(of(next))) staleResends.push(`${writer} resent ${cluster.principal}'s`);
        else violations.push(`${writer} wrote rules of ${cluster.principal} it never had`);
      }
    }
    return originalSet(vpc, next);
  };
  // Sampled while it runs: no floating IP on the other's instances, none twice for one Service.
  const intervals: ReturnType<typeof setInterval>[] = [];
  const sampler = setInterval(() => {
    const owners = new Map<string, string>();
    for (const f of sim.db.floatingIps) {
      const cluster = clusterOfFip(f.description);
      if (!cluster) violations.push(`${f.name}: no cluster identity in ${f.description}`);
      if (cluster && f.instanceId && !cluster.instances.has(f.instanceId)) {
        violations.push(`${f.name} of ${cluster.principal} on another cluster's instance`);
      }
      const owner = ownerOf(f.description);
      if (owner.kind === 'service') {
        const first = owners.get(owner.uid);
        if (first)
          violations.push(
            `a second floating IP for ${owner.key}: ${first}, ${f.name} ${f.description}`,
          );
        owners.set(owner.uid, `${f.name} ${f.description}`);
      }
    }
  }, 100);
  sim.requests.reset();
  try {
    const routeViolations = setInterval(() => {
      const routerA = sim.db.routers.find((r) => r.name === 'alpha-pods');
      const routerB = sim.db.routers.find((r) => r.name === 'alpha2-pods');
      for (const s of sim.db.subnets) {
        if (!s.customRouterId) continue;
        if (s.name === 'default' && s.customRouterId !== routerA?.id)
          violations.push("default: not A's router");
        if (s.name === 'sub-b' && s.customRouterId !== routerB?.id)
          violations.push("sub-b: not B's router");
      }
      for (const r of sim.db.routes) {
        const own =
          r.vpcRouterId === routerA?.id ? a : r.vpcRouterId === routerB?.id ? b : undefined;
        const t = r.target;
        const target =
          t.type === 'instance'
            ? sim.db.instances.find((i) => i.name === t.value || i.id === t.value)
            : undefined;
        if (own && target && !own.instances.has(target.id))
          violations.push(`route ${r.name} to the other's instance`);
      }
    }, 200);
    intervals.push(routeViolations);
    let ccms = [await startWithRoutes(a, 'alpha'), await startWithRoutes(b, 'alpha2')];
    const names = Array.from({ length: CHURN }, (_, i) => `svc-${i}`);
    const create = (cluster: Cluster, from: number, to: number) =>
      Promise.all(
        names.slice(from, to).map(async (name, i) => {
          await ensureNamespace(cluster.kube, 'churn');
          const firewall: Record<string, string> =
            (from + i) % 2 === 0 ? { 'oxide.computer/firewall': 'true' } : {};
          await cluster.kube.post(
            '/api/v1/namespaces/churn/services',
            loadBalancer(name, 'churn', firewall),
          );
        }),
      );
    const remove = (cluster: Cluster, from: number, to: number) =>
      Promise.all(
        names
          .slice(from, to)
          .map((name) => cluster.kube.delete(`/api/v1/namespaces/churn/services/${name}`)),
      );
    const served = async (cluster: Cluster, from: number, to: number) => {
      let missing = to - from;
      await waitFor(
        `${cluster.principal}: svc-${from}..${to - 1} have their IPs`,
        async () => {
          // One list, not one GET per Service: the soak size has a thousand of them.
          const list = await cluster.kube.get<{ items: V1Service[] }>(
            '/api/v1/namespaces/churn/services',
          );
          const withIp = new Set(
            list.items
              .filter((s) => s.status?.loadBalancer?.ingress?.[0]?.ip)
              .map((s) => s.metadata?.name),
          );
          missing = names.slice(from, to).filter((n) => !withIp.has(n)).length;
          return missing === 0;
        },
        60_000 + CHURN * 2_000,
        1_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)} (${missing} without an IP)`);
      });
    };
    const half = Math.floor(CHURN / 2);
    await Promise.all([create(a, 0, half), create(b, 0, half)]);
    // Both CCMs restart while the first half is being served.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const ccm of ccms) await stop(ccm);
    ccms = [await startWithRoutes(a, 'alpha'), await startWithRoutes(b, 'alpha2')];
    await Promise.all([
      create(a, half, CHURN),
      create(b, half, CHURN),
      remove(a, 0, 2),
      remove(b, 0, 2),
    ]);
    await Promise.all([served(a, 2, CHURN), served(b, 2, CHURN)]).catch((err: unknown) => {
      // What the CCMs were failing at: the last error lines of each.
      for (const ccm of ccms) {
        const errors = ccm
          .logs()
          .split('\n')
          .filter((l) => /^[EW]/.test(l));
        console.log(`${errors.length} E/W lines; last:\n${errors.slice(-10).join('\n')}`);
      }
      console.log(JSON.stringify(sim.requests.byOperation()));
      throw err;
    });
    // Each cluster's router holds a route per Node, on its own subnet, and nothing of the other.
    const routed = (clusterName: string, nodes: readonly string[], subnet: string) => {
      const router = sim.db.routers.find((r) => r.name === `${clusterName}-pods`);
      if (!router) return false;
      const routes = sim.db.routes.filter((r) => r.vpcRouterId === router.id);
      const attached = sim.db.subnets.find((s) => s.name === subnet)?.customRouterId === router.id;
      return (
        attached && nodes.every((n) => routes.some((r) => r.description.includes(` node=${n} `)))
      );
    };
    await waitFor(
      'routes for every Node of both',
      () => routed('alpha', NODES.a, 'default') && routed('alpha2', NODES.b, 'sub-b'),
      60_000 + NODE_COUNT * 1_000,
      500,
    );
    for (const [name, uid] of [
      ['alpha-pods', a.uid],
      ['alpha2-pods', b.uid],
    ]) {
      assert.equal(
        clusterIdIn(sim.db.routers.find((r) => r.name === name)?.description ?? ''),
        uid,
      );
    }
    // Lost updates of the other's rules are repaired: every firewalled Service has its rule.
    const ruled = (cluster: Cluster, clusterName: string) =>
      names
        .slice(2)
        .filter((_, i) => i % 2 === 0)
        .every((name) => {
          const base = firewallRuleBase(`${clusterName}-churn-${name}`);
          return [...sim.db.rules.values()]
            .flat()
            .some((r) => r.name === `${base}-tcp` && clusterIdIn(r.description) === cluster.uid);
        });
    const repairStart = Date.now();
    await waitFor(
      'every firewalled Service has its rule',
      () => ruled(a, 'alpha') && ruled(b, 'alpha2'),
      120_000,
      500,
    );
    console.log(
      `firewall rules complete ${Date.now() - repairStart} ms after every Service was served`,
    );
    await Promise.all([remove(a, 2, CHURN), remove(b, 2, CHURN)]);
    const left = () => ({
      fips: sim.db.floatingIps.length,
      rules: [...sim.db.rules.values()].flat().filter((r) => r.name.startsWith('k8s-lb-')).length,
    });
    const deleting = Date.now();
    await waitFor(
      'every floating IP and firewall rule gone',
      () => left().fips === 0 && left().rules === 0,
      60_000 + CHURN * 2_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(left())} left`);
    });
    console.log(
      `every Service's floating IP and rules gone ${Date.now() - deleting} ms after the deletes`,
    );
    for (const ccm of ccms) await stop(ccm);
  } finally {
    clearInterval(sampler);
    for (const i of intervals) clearInterval(i);
    sim.db.rules.set = originalSet;
  }
  assert.deepEqual(violations, []);
  assertNoCrossWrites();
  console.log(`firewall: ${staleResends.length} stale resends of the other's rules (lost updates)`);
  const created = sim.requests.count('floating_ip_create');
  console.log(
    `churn ${CHURN}/cluster: ${JSON.stringify(sim.requests.byOperation())}; ` +
      `writes a=${writesBy('cluster-a').length} b=${writesBy('cluster-b').length}`,
  );
  // At most one per Service (a second one is also caught by the sampler); svc-0 and svc-1 are
  // deleted right after their creation and may go before their floating IP is made.
  assert.ok(created <= 2 * CHURN && created >= 2 * (CHURN - 2), `${created} floating IPs created`);
});
