// Nodes that join together get their routes created together: the cluster router is created
// once and attached to the subnet once, not once per Node (issue 14's 100-Node run made 16
// router creates, 15 of them "already exists", and 7 subnet updates).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { detachSubnetRouter } from '../../../oxide/subnets.ts';
import { OxideCloudProvider } from '../provider.ts';

const NODES = 20;
let sim: Simulator;
let client: OxideClient;

before(async () => {
  sim = await startSimulator({ seed: { project: 'k8s' }, latencyMs: 20 });
  for (let i = 0; i < NODES; i++) {
    sim.db.addInstance({
      name: `burst-${i}`,
      nics: [{ primary: true, v4: `172.30.1.${i + 10}`, transitIps: [`10.244.${i}.0/24`] }],
    });
  }
  client = new OxideClient({ host: sim.url, token: sim.token, project: 'k8s', maxRetries: 0 });
});

after(async () => {
  await client.close();
  await sim.stop();
});

test('routes for Nodes joining together share one router creation and one subnet attachment', async () => {
  const routes = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
  }).routes();
  assert.ok(routes);
  sim.requests.reset();
  await Promise.all(
    Array.from({ length: NODES }, (_, i) =>
      routes.createRoute('burst', `burst-${i}`, {
        name: `burst-${i}`,
        targetNode: `burst-${i}`,
        destinationCIDR: `10.244.${i}.0/24`,
        blackhole: false,
      }),
    ),
  );
  assert.equal(sim.requests.count('vpc_router_create'), 1);
  assert.equal(sim.requests.count('vpc_subnet_view'), 1);
  assert.equal(sim.requests.count('vpc_subnet_update'), 1);
  assert.equal(sim.requests.count('vpc_router_route_create'), NODES);
  const listed = await routes.listRoutes('burst');
  assert.equal(listed.length, NODES);
});

test('a listing and Nodes joining at once: one router creation, and the listing creates none', async () => {
  // The subnet takes one custom router: free it of the previous test's.
  for (const subnet of sim.db.subnets) {
    if (subnet.customRouterId) await detachSubnetRouter(client, subnet.id);
  }
  const routes = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
  }).routes();
  assert.ok(routes);
  sim.requests.reset();
  const create = (i: number) =>
    routes.createRoute('joined', `burst-${i}`, {
      name: `burst-${i}`,
      targetNode: `burst-${i}`,
      destinationCIDR: `10.244.${i}.0/24`,
      blackhole: false,
    });
  const [listed] = await Promise.all([
    routes.listRoutes('joined'),
    ...Array.from({ length: 5 }, (_, i) => create(i)),
  ]);
  assert.deepEqual(listed, [], 'listed before any router existed');
  assert.equal(sim.requests.count('vpc_router_create'), 1);
  assert.equal((await routes.listRoutes('joined')).length, 5);
});
