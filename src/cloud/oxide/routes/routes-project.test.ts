// A Node whose providerID names an instance of another project (a view by id reaches every
// project the token can see) gets no route: the routes resolve instances through the same lookup
// as the Instances capability, project check included, so nothing is written anywhere.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { ForeignInstanceError } from '../instance-lookup.ts';
import { OxideCloudProvider } from '../provider.ts';

let sim: Simulator;
let client: OxideClient;
let theirsId: string;
let ownId: string;

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: [
        { name: 'own', nics: [{ primary: true, v4: '172.30.0.5', transitIps: ['10.244.1.0/24'] }] },
      ],
    },
    latencyMs: 0,
  });
  sim.db.addProject('other');
  theirsId = sim.db.addInstance({
    name: 'theirs',
    project: 'other',
    nics: [{ primary: true, v4: '172.30.1.9', transitIps: ['10.244.2.0/24'] }],
  }).id;
  ownId = sim.db.findInstance('own').id;
  client = new OxideClient({ host: sim.url, token: sim.token, project: 'k8s', maxRetries: 0 });
});

after(async () => {
  await client.close();
  await sim.stop();
});

const WRITES = [
  'vpc_router_create',
  'vpc_subnet_update',
  'vpc_router_route_create',
  'vpc_router_route_update',
];

test("a providerID naming another project's instance: refused, no router, route or attachment written", async () => {
  const routes = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    inventory: { ttlMs: 0 },
  }).routes();
  sim.requests.reset();
  await assert.rejects(
    routes.createRoute('kubernetes', 'evil', {
      name: '',
      targetNode: 'evil',
      targetProviderID: `oxide://${theirsId}`,
      destinationCIDR: '10.244.2.0/24',
      blackhole: false,
    }),
    (err: unknown) =>
      err instanceof ForeignInstanceError &&
      err.message.includes(`instance ${theirsId}`) &&
      err.message.includes('is not in project k8s'),
  );
  for (const op of WRITES) assert.equal(sim.requests.count(op), 0, `${op} requests`);
  assert.deepEqual(
    sim.db.routes.filter((r) => r.target.type === 'instance'),
    [],
  );
  assert.deepEqual(await routes.listRoutes('kubernetes'), []);

  // The project's own instance, named the same way, still gets its route.
  await routes.createRoute('kubernetes', 'own', {
    name: '',
    targetNode: 'own',
    targetProviderID: `oxide://${ownId}`,
    destinationCIDR: '10.244.1.0/24',
    blackhole: false,
  });
  assert.deepEqual(
    (await routes.listRoutes('kubernetes')).map((r) => [r.targetNode, r.destinationCIDR]),
    [['own', '10.244.1.0/24']],
  );
});

test('two configured projects: each Node’s route on its own project’s VPC router; a deleted target is a blackhole there only', async () => {
  const routes = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    projects: ['k8s', 'other'],
    inventory: { ttlMs: 0 },
  }).routes();
  const route = (node: string, id: string, cidr: string) => ({
    name: '',
    targetNode: node,
    targetProviderID: `oxide://${id}`,
    destinationCIDR: cidr,
    blackhole: false,
  });
  await routes.createRoute('kubernetes', 'own', route('own', ownId, '10.244.1.0/24'));
  await routes.createRoute('kubernetes', 'theirs', route('theirs', theirsId, '10.244.2.0/24'));
  // One router per project's VPC, each holding only its project's Node.
  const vpcOf = (project: string) =>
    sim.db.vpcs.find((v) => v.projectId === sim.db.project(project).id && v.name === 'default');
  for (const [project, node] of [
    ['k8s', 'own'],
    ['other', 'theirs'],
  ] as const) {
    const router = sim.db.routers.find(
      (r) => r.vpcId === vpcOf(project)?.id && r.name === 'kubernetes-pods',
    );
    assert.ok(router, `router in ${project}`);
    const held = sim.db.routes.filter((r) => r.vpcRouterId === router.id);
    assert.deepEqual(
      held.map((r) => r.target),
      [{ type: 'instance', value: node }],
    );
  }
  const listed = async () =>
    (await routes.listRoutes('kubernetes'))
      .map((r) => [r.targetNode, r.destinationCIDR, r.blackhole])
      .sort((x, y) => String(x[0]).localeCompare(String(y[0])));
  assert.deepEqual(await listed(), [
    ['own', '10.244.1.0/24', false],
    ['theirs', '10.244.2.0/24', false],
  ]);
  // The route target is an instance name, resolved in its router's project: deleting `theirs`
  // in `other` makes only that route a blackhole (no instance of that name in k8s decides).
  sim.db.deleteInstance(theirsId);
  assert.deepEqual(await listed(), [
    ['own', '10.244.1.0/24', false],
    ['theirs', '10.244.2.0/24', true],
  ]);
});
