// Route controller with the real Oxide provider, against the Oxide simulator over HTTP and a
// dedicated kube-apiserver (NetworkUnavailable and pod CIDRs are cluster-wide state): Nodes with
// pod CIDRs get routes on the cluster's custom router, and only that router is ever touched.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1EventList, V1Node, V1NodeCondition } from '@kubernetes/client-node';
import type { RouterRoute, VpcRouter } from '@oxide/api';
import type { Simulator } from '../sim/server.ts';
import { OxideCloudProvider } from '../src/cloud/oxide/provider.ts';
import { NodeController } from '../src/controllers/node/controller.ts';
import { RouteController } from '../src/controllers/route/controller.ts';
import type { KubeClient } from '../src/kube/client.ts';
import { createRouter, createRouterRoute } from '../src/oxide/routers.ts';
import { attachSubnetRouter } from '../src/oxide/subnets.ts';
import { viewVpcByName } from '../src/oxide/vpcs.ts';
import { waitFor } from './harness/context.ts';
import { testKube, uniqueName } from './harness/kube.ts';
import { createKubeletNode, deleteNode, getNode } from './harness/nodes.ts';
import { QUICK_RETRIES, startOxideEnv } from './harness/oxide-env.ts';
import type { OxideEnv } from './harness/oxide-env.ts';

const CLUSTER = 'kubernetes';
const ROUTER = 'kubernetes-pods';

let kube: KubeClient;
let env: OxideEnv;
let sim: Simulator;
let foreignRouter: VpcRouter;
let foreignRoute: RouterRoute;

before(async () => {
  ({ client: kube } = await testKube({ dedicated: true }));
  env = await startOxideEnv({
    kube,
    clientOptions: { timeoutMs: 1000, ...QUICK_RETRIES },
    inventoryTtlMs: 200,
    clusterName: CLUSTER,
  });
  const { client } = env;
  sim = env.sim;
  // Someone else's custom router on another subnet, with a route inside the cluster CIDR.
  sim.db.addSubnet({ name: 'other', ipv4Block: '172.31.0.0/24' });
  const vpc = await viewVpcByName(client, 'default');
  foreignRouter = await createRouter(client, vpc.id, 'foreign', 'not ours');
  await attachSubnetRouter(
    client,
    sim.db.subnets.find((s) => s.name === 'other')?.id ?? '',
    foreignRouter.id,
  );
  foreignRoute = await createRouterRoute(client, foreignRouter.id, {
    name: 'foreign-pods',
    description: 'not ours',
    destination: { type: 'ip_net', value: '10.244.99.0/24' },
    target: { type: 'ip', value: '172.31.0.5' },
  });

  const nodes = new NodeController(env.ctx, { workers: 4, statusUpdateFrequencyMs: 1000 });
  const routes = new RouteController(env.ctx, {
    clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
    periodMs: 300,
  });
  env.start(nodes, routes);
});

after(() => env.stop());

const defaultVpcId = (): string => sim.db.vpcs.find((v) => v.name === 'default')?.id ?? '';

const ourRouter = (vpcId = defaultVpcId()): VpcRouter | undefined =>
  sim.db.routers.find((r) => r.name === ROUTER && r.vpcId === vpcId);

const routesTo = (instance: string, vpcId = defaultVpcId()): RouterRoute[] =>
  sim.db.routes.filter(
    (r) =>
      r.vpcRouterId === ourRouter(vpcId)?.id &&
      r.target.type === 'instance' &&
      r.target.value === instance,
  );

async function nodeWithPodCIDRs(name: string, cidrs: string[]): Promise<void> {
  await createKubeletNode(kube, name);
  await kube.patch(`/api/v1/nodes/${name}`, 'merge', {
    spec: { podCIDR: cidrs[0], podCIDRs: cidrs },
  });
}

async function networkUnavailable(name: string): Promise<V1NodeCondition | undefined> {
  const node: V1Node = await getNode(kube, name);
  return node.status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
}

async function warnings(name: string): Promise<string[]> {
  const list = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return list.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`);
}

test('Nodes with pod CIDRs: router attached to the subnet, one route per CIDR, NetworkUnavailable False', async () => {
  const a = uniqueName('route-a');
  const b = uniqueName('route-b');
  sim.db.addInstance({
    name: a,
    nics: [{ primary: true, v4: '172.30.0.21', transitIps: ['10.244.1.0/24'] }],
  });
  sim.db.addInstance({ name: b, nics: [{ primary: true, v4: '172.30.0.22' }] });
  await Promise.all([
    nodeWithPodCIDRs(a, ['10.244.1.0/24']),
    nodeWithPodCIDRs(b, ['10.244.2.0/24']),
  ]);

  await waitFor('routes to both instances', () => routesTo(a).length && routesTo(b).length);
  const router = ourRouter();
  assert.ok(router);
  assert.equal(router.kind, 'custom');
  assert.equal(sim.db.subnets.find((s) => s.name === 'default')?.customRouterId, router.id);
  assert.deepEqual(
    [...routesTo(a), ...routesTo(b)].map((r) => r.destination),
    [
      { type: 'ip_net', value: '10.244.1.0/24' },
      { type: 'ip_net', value: '10.244.2.0/24' },
    ],
  );
  for (const name of [a, b]) {
    const cond = await waitFor(`${name} NetworkUnavailable False`, async () => {
      const c = await networkUnavailable(name);
      return c?.status === 'False' ? c : undefined;
    });
    assert.equal(cond.reason, 'RouteCreated');
  }
  // b's NIC does not forward its pod CIDR: the route exists, and the operator is told.
  const bWarnings = await waitFor('transit_ips warning on b', async () =>
    (await warnings(b)).find((w) => w.startsWith('TransitIPsMissing')),
  );
  assert.match(bWarnings, /10\.244\.2\.0\/24/);
  assert.deepEqual(
    (await warnings(a)).filter((w) => w.startsWith('TransitIPsMissing')),
    [],
  );

  // A deleted Node loses its route; a deleted instance's route is a blackhole and goes too.
  await deleteNode(kube, a);
  await waitFor('route to a deleted', () => routesTo(a).length === 0);
  sim.db.deleteInstance(b);
  await waitFor('blackhole route to b deleted', () => routesTo(b).length === 0);
  await deleteNode(kube, b);

  // Someone else's router, its subnet attachment and its route are untouched.
  assert.ok(sim.db.routers.some((r) => r.id === foreignRouter.id));
  assert.equal(sim.db.subnets.find((s) => s.name === 'other')?.customRouterId, foreignRouter.id);
  assert.ok(sim.db.routes.some((r) => r.id === foreignRoute.id));
});

test('route creation failure: Warning FailedToCreateRoute and NetworkUnavailable True, then converges', async () => {
  const name = uniqueName('route-fail');
  sim.db.addInstance({
    name,
    nics: [{ primary: true, v4: '172.30.0.23', transitIps: ['10.244.3.0/24'] }],
  });
  // Two attempts per createRoute (maxRetries 1): three reconciles fail before one succeeds.
  sim.faults.add({ operation: 'vpc_router_route_create', status: 500, times: 6 });
  await nodeWithPodCIDRs(name, ['10.244.3.0/24']);

  const unavailable = await waitFor(
    'NetworkUnavailable True',
    async () => {
      const c = await networkUnavailable(name);
      return c?.status === 'True' ? c : undefined;
    },
    10_000,
    30,
  );
  assert.equal(unavailable.reason, 'NoRouteCreated');
  await waitFor('route created after the faults', () => routesTo(name).length === 1);
  const cond = await waitFor('NetworkUnavailable False', async () => {
    const c = await networkUnavailable(name);
    return c?.status === 'False' ? c : undefined;
  });
  assert.equal(cond.reason, 'RouteCreated');
  const failed = (await warnings(name)).filter((w) => w.startsWith('FailedToCreateRoute'));
  assert.ok(failed.length > 0);
  assert.match(failed[0] ?? '', /10\.244\.3\.0\/24/);
  await deleteNode(kube, name);
  await waitFor('route deleted with its Node', () => routesTo(name).length === 0);
});

test("a Node on a subnet with someone else's custom router: FailedToCreateRoute, router untouched", async () => {
  const name = uniqueName('route-foreign');
  sim.db.addInstance({
    name,
    nics: [{ primary: true, subnet: 'other', v4: '172.31.0.30', transitIps: ['10.244.4.0/24'] }],
  });
  await nodeWithPodCIDRs(name, ['10.244.4.0/24']);
  const failed = await waitFor('FailedToCreateRoute naming the foreign router', async () =>
    (await warnings(name)).find((w) => w.startsWith('FailedToCreateRoute')),
  );
  assert.match(failed, new RegExp(`custom router ${foreignRouter.id}`));
  const cond = await waitFor('NetworkUnavailable True', async () => {
    const c = await networkUnavailable(name);
    return c?.status === 'True' ? c : undefined;
  });
  assert.equal(cond.reason, 'NoRouteCreated');
  assert.equal(sim.db.subnets.find((s) => s.name === 'other')?.customRouterId, foreignRouter.id);
  assert.deepEqual(routesTo(name), []);
  await deleteNode(kube, name);
});

test("a Node whose providerID names another project's instance: no route anywhere, FailedToCreateRoute says why", async () => {
  const name = uniqueName('route-evil');
  sim.db.addProject('other-project');
  const theirs = sim.db.addInstance({
    name: uniqueName('theirs'),
    project: 'other-project',
    nics: [{ primary: true, v4: '172.30.0.40', transitIps: ['10.244.6.0/24'] }],
  });
  const routesBefore = sim.db.routes.length;
  const routersBefore = sim.db.routers.length;
  await createKubeletNode(kube, name, { providerID: `oxide://${theirs.id}` });
  await kube.patch(`/api/v1/nodes/${name}`, 'merge', {
    spec: { podCIDR: '10.244.6.0/24', podCIDRs: ['10.244.6.0/24'] },
  });
  const failed = await waitFor('FailedToCreateRoute naming the project', async () =>
    (await warnings(name)).find((w) => w.startsWith('FailedToCreateRoute')),
  );
  assert.match(failed, new RegExp(`instance ${theirs.id} .*is not in project`));
  const cond = await waitFor('NetworkUnavailable True', async () => {
    const c = await networkUnavailable(name);
    return c?.status === 'True' ? c : undefined;
  });
  assert.equal(cond.reason, 'NoRouteCreated');
  assert.equal(sim.db.routes.length, routesBefore, 'no route created');
  assert.equal(sim.db.routers.length, routersBefore, 'no router created');
  assert.deepEqual(
    sim.db.routes.filter((r) => r.target.type === 'instance' && r.target.value === theirs.name),
    [],
  );
  await deleteNode(kube, name);
});

test('routes in a non-default VPC: a restarted provider still lists them, so stale ones are deleted', async () => {
  const vpc = sim.db.addVpc('blue', '172.29.0.0/22');
  const name = uniqueName('route-blue');
  sim.db.addInstance({
    name,
    nics: [{ primary: true, vpc: 'blue', v4: '172.29.0.10', transitIps: ['10.244.5.0/24'] }],
  });
  await nodeWithPodCIDRs(name, ['10.244.5.0/24']);
  await waitFor('route in the blue VPC', () => routesTo(name, vpc.id).length === 1);
  assert.equal(routesTo(name).length, 0, 'nothing in the default VPC');

  // A fresh provider is what a restarted CCM has: it has created nothing yet.
  const restarted = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client: env.client,
  }).routes();
  assert.ok(restarted);
  const listed = await restarted.listRoutes(CLUSTER);
  const blue = listed.filter((r) => r.targetNode === name);
  assert.deepEqual(
    blue.map((r) => r.destinationCIDR),
    ['10.244.5.0/24'],
  );
  // And it can delete it (what the controller does for a Node deleted while the CCM was down).
  const [route] = blue;
  assert.ok(route);
  await restarted.deleteRoute(CLUSTER, route);
  assert.equal(routesTo(name, vpc.id).length, 0);
  // The running controller puts it back while the Node exists, and removes it with the Node.
  await waitFor('route recreated', () => routesTo(name, vpc.id).length === 1);
  await deleteNode(kube, name);
  await waitFor('route deleted with its Node', () => routesTo(name, vpc.id).length === 0);
});
