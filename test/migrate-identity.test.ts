// Upgrading from v0.8 (records without the cluster identity) changes no Service and costs at most
// one record write per Oxide object: each floating IP's description gets the identity once, each
// firewalled Service's rules once (one write of the VPC's rule set per Service), the route
// controller's router once; routes and subnet attachments not at all. A restart afterwards writes
// nothing. The v0.8 world is made by the provider without an identity, which
// writes exactly v0.8's records (cloud/oxide/cluster.ts UNKNOWN_CLUSTER_ID; the unit tests pin
// the text).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import { OxideLoadBalancer } from '../src/cloud/oxide/load-balancer/load-balancer.ts';
import { OxideCloudProvider } from '../src/cloud/oxide/provider.ts';
import { UNKNOWN_CLUSTER_ID, clusterIdIn } from '../src/cloud/oxide/cluster.ts';
import { OxideClient } from '../src/oxide/client.ts';
import { reconcileMetrics } from '../src/controllers/metrics.ts';
import { waitFor } from './harness/context.ts';
import { ensureNamespace, loadBalancer, runCcm, startCluster } from './harness/two-clusters.ts';

const SERVICES = [
  { name: 'web', firewall: true },
  { name: 'api', firewall: false },
  { name: 'db', firewall: true },
];

async function reconciled(): Promise<number> {
  const got = await reconcileMetrics.total.get();
  return got.values
    .filter(
      (v) => v.labels['controller'] === 'service-lb-controller' && v.labels['result'] === 'success',
    )
    .reduce((sum, v) => sum + v.value, 0);
}

test('v0.8 records: zero Service changes, one write per floating IP and per firewalled Service, then none', async () => {
  const sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: ['n1', 'n2'].map((name, i) => ({
        name,
        nics: [{ primary: true, v4: `172.30.0.${i + 5}` }],
      })),
    },
  });
  const cluster = await startCluster(sim, 'ccm', ['n1', 'n2']);
  const { kube } = cluster;
  const oxide = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
  try {
    // v0.8 at work: Services with the finalizer and status, floating IPs and rules as it wrote them.
    await ensureNamespace(kube, 'shop');
    const v08 = new OxideLoadBalancer({
      client: oxide,
      cluster: { name: 'kubernetes', id: UNKNOWN_CLUSTER_ID },
      firewall: false,
    });
    const nodes = await kube.get<{ items: V1Node[] }>('/api/v1/nodes');
    for (const s of SERVICES) {
      const svc = loadBalancer(
        s.name,
        'shop',
        s.firewall ? { 'oxide.computer/firewall': 'true' } : {},
      );
      svc.metadata!.finalizers = ['service.kubernetes.io/load-balancer-cleanup'];
      const created = await kube.post<V1Service>('/api/v1/namespaces/shop/services', svc);
      const status = await v08.ensureLoadBalancer('kubernetes', created, nodes.items);
      await kube.patch(`/api/v1/namespaces/shop/services/${s.name}/status`, 'merge', {
        status: { loadBalancer: status },
      });
    }
    // v0.8's routes: a route per Node on the `kubernetes-pods` router, attached to the subnet.
    const v08routes = new OxideCloudProvider({
      client: oxide,
      cluster: { name: 'kubernetes', id: UNKNOWN_CLUSTER_ID },
    }).routes();
    assert.ok(v08routes);
    for (const [i, node] of ['n1', 'n2'].entries()) {
      const cidr = `10.244.${i}.0/24`;
      await kube.patch(`/api/v1/nodes/${node}`, 'merge', {
        spec: { podCIDR: cidr, podCIDRs: [cidr] },
      });
      await v08routes.createRoute('kubernetes', '', {
        name: '',
        targetNode: node,
        destinationCIDR: cidr,
        blackhole: false,
      });
    }
    const router = () => sim.db.routers.find((r) => r.name === 'kubernetes-pods');
    assert.equal(clusterIdIn(router()?.description ?? ''), undefined);
    assert.ok(sim.db.floatingIps.every((f) => clusterIdIn(f.description) === undefined));
    const rules = () =>
      [...sim.db.rules.values()].flat().filter((r) => r.name.startsWith('k8s-lb-'));
    assert.equal(rules().length, 2, 'web and db: one TCP rule each');
    const before = {
      services: await Promise.all(
        SERVICES.map((s) => kube.get<V1Service>(`/api/v1/namespaces/shop/services/${s.name}`)),
      ),
      fips: structuredClone(sim.db.floatingIps),
    };
    sim.requests.reset();

    // The upgrade.
    const counted = await reconciled();
    const options = {
      allocateNodeCidrs: true,
      configureCloudRoutes: true,
      clusterCidr: '10.244.0.0/16',
      routeReconciliationPeriodMs: 1_000,
    };
    let ccm = await runCcm(sim, cluster, options, ['service', 'route']);
    await waitFor(
      'every Service reconciled',
      async () => (await reconciled()) - counted >= SERVICES.length,
      60_000,
    );
    await waitFor(
      'rules upgraded',
      () => rules().every((r) => clusterIdIn(r.description) === cluster.uid),
      30_000,
    );
    await waitFor(
      'router upgraded',
      () => clusterIdIn(router()?.description ?? '') === cluster.uid,
      30_000,
    );
    // Two more route reconciliations: a route write would have happened by now.
    await new Promise((r) => setTimeout(r, 2_500));
    const writes = sim.requests.entries.filter((e) => e.method !== 'GET');
    console.log(
      `upgrade from v0.8: Oxide writes ${JSON.stringify(writes.map((w) => w.operationId))}`,
    );
    assert.deepEqual(
      writes.map((w) => `${w.operationId} ${w.path}`).sort(),
      [
        ...before.fips.map((f) => `floating_ip_update /v1/floating-ips/${f.id}`),
        ...SERVICES.filter((s) => s.firewall).map(
          () => 'vpc_firewall_rules_update /v1/vpc-firewall-rules',
        ),
        `vpc_router_update /v1/vpc-routers/${router()?.id}`,
      ].sort(),
      'one record write per floating IP, per firewalled Service and per router, nothing else',
    );
    assert.deepEqual(
      sim.db.floatingIps.map((f) => [f.id, f.name, f.ip, f.instanceId, clusterIdIn(f.description)]),
      before.fips.map((f) => [f.id, f.name, f.ip, f.instanceId, cluster.uid]),
    );
    for (const [i, svc] of before.services.entries()) {
      const now = await kube.get<V1Service>(
        `/api/v1/namespaces/shop/services/${SERVICES[i]!.name}`,
      );
      assert.equal(
        now.metadata?.resourceVersion,
        svc.metadata?.resourceVersion,
        `${SERVICES[i]!.name} unchanged`,
      );
    }

    // A restart: nothing left to write.
    assert.equal(await ccm.stop(), 0);
    sim.requests.reset();
    const again = await reconciled();
    ccm = await runCcm(sim, cluster, options, ['service', 'route']);
    await waitFor(
      'every Service reconciled again',
      async () => (await reconciled()) - again >= SERVICES.length,
      60_000,
    );
    await waitFor(
      'routes listed twice',
      () => sim.requests.count('vpc_router_route_list') >= 2,
      30_000,
    );
    assert.deepEqual(
      sim.requests.entries.filter((e) => e.method !== 'GET').map((e) => e.operationId),
      [],
    );
    assert.equal(await ccm.stop(), 0);
  } finally {
    await oxide.close();
    await cluster.controlPlane.stop();
    await sim.stop();
  }
});
