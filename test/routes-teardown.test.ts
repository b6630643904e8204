// hack/routes-teardown.ts against the Oxide simulator over HTTP: routes made by the real route
// provider for one cluster are removed with their router and subnet attachment; another
// cluster's router, and a route someone else put on ours, are left alone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startSimulator } from '../sim/server.ts';
import type { Simulator } from '../sim/server.ts';
import { OxideCloudProvider } from '../src/cloud/oxide/provider.ts';
import type { Routes } from '../src/cloud/provider.ts';
import { OxideClient } from '../src/oxide/client.ts';
import { createRouterRoute } from '../src/oxide/routers.ts';
import { teardownRoutes } from '../hack/routes-teardown/teardown.ts';
import { repoRoot } from './harness/testbin.ts';

let sim: Simulator;
let client: OxideClient;

before(async () => {
  sim = await startSimulator({ seed: { project: 'k8s' } });
  sim.db.addSubnet({ name: 'sub-b', ipv4Block: '172.31.1.0/24' });
  sim.db.addSubnet({ name: 'sub-c', ipv4Block: '172.31.2.0/24' });
  for (const name of ['a-0', 'a-1', 'b-0', 'c-0']) {
    const sub = name.startsWith('a') ? 'default' : `sub-${name.slice(0, 1)}`;
    sim.db.addInstance({ name, nics: [{ primary: true, subnet: sub }] });
  }
  client = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
});

/** The route provider as one cluster's CCM has it (it caches its router per VPC). */
function routesOf(): Routes {
  const r = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
  }).routes();
  assert.ok(r);
  return r;
}

after(async () => {
  await client.close();
  await sim.stop();
});

const route = (node: string, cidr: string) => ({
  name: '',
  targetNode: node,
  destinationCIDR: cidr,
  blackhole: false,
});
const router = (name: string) => sim.db.routers.find((r) => r.name === name);
const routesOn = (name: string) => sim.db.routes.filter((r) => r.vpcRouterId === router(name)?.id);
const subnet = (name: string) => sim.db.subnets.find((s) => s.name === name);

test('removes one cluster’s routes, subnet attachment and router; dry run changes nothing', async () => {
  const prod = routesOf();
  await prod.createRoute('prod', '', route('a-0', '10.244.0.0/24'));
  await prod.createRoute('prod', '', route('a-1', '10.244.1.0/24'));
  await routesOf().createRoute('staging', '', route('b-0', '10.245.0.0/24'));
  assert.equal(routesOn('prod-pods').length, 2);
  assert.equal(subnet('default')?.customRouterId, router('prod-pods')?.id);

  // Without the identity its router's record names, nothing is removed, and the log says how.
  const lines: string[] = [];
  const blind = await teardownRoutes(client, {
    clusterName: 'prod',
    vpcs: ['default'],
    log: (line) => lines.push(line),
  });
  assert.deepEqual(blind.routersDeleted, []);
  assert.equal(routesOn('prod-pods').length, 2);
  assert.match(lines.join('\n'), /pass --cluster-id=cluster-a if it is/);

  const dry = await teardownRoutes(client, {
    clusterName: 'prod',
    clusterId: 'cluster-a',
    vpcs: ['default'],
    dryRun: true,
  });
  assert.equal(dry.routesDeleted.length, 2);
  assert.deepEqual(dry.subnetsDetached, ['default']);
  assert.equal(routesOn('prod-pods').length, 2, 'dry run deletes nothing');

  const done = await teardownRoutes(client, {
    clusterName: 'prod',
    clusterId: 'cluster-a',
    vpcs: ['default'],
  });
  assert.deepEqual(done.routersDeleted, ['prod-pods']);
  assert.equal(router('prod-pods'), undefined);
  assert.equal(sim.db.routes.filter((r) => r.description.includes('cluster=prod ')).length, 0);
  assert.equal(subnet('default')?.customRouterId ?? null, null);
  // The other cluster is untouched.
  assert.equal(routesOn('staging-pods').length, 1);
  assert.equal(subnet('sub-b')?.customRouterId, router('staging-pods')?.id);
});

test('a route that is not ours keeps the router and its attachment (CLI, credentials from env)', async () => {
  await routesOf().createRoute('dev', '', route('c-0', '10.246.0.0/24'));
  const dev = router('dev-pods');
  assert.ok(dev);
  await createRouterRoute(client, dev.id, {
    name: 'hand-made',
    description: 'added by an operator',
    destination: { type: 'ip_net', value: '192.168.0.0/24' },
    target: { type: 'ip', value: '172.31.2.9' },
  });
  const { stdout } = await promisify(execFile)(
    `${repoRoot}/node_modules/.bin/node`,
    ['hack/routes-teardown.ts', '--cluster-name=dev', '--cluster-id=cluster-a', '--vpc=default'],
    {
      cwd: repoRoot,
      env: { ...process.env, OXIDE_HOST: sim.url, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: 'k8s' },
    },
  );
  assert.match(
    stdout,
    /removed: 1 route\(s\), 0 subnet attachment\(s\), 0 router\(s\); kept dev-pods/,
  );
  assert.deepEqual(
    routesOn('dev-pods').map((r) => r.name),
    ['hand-made'],
  );
  assert.equal(subnet('sub-c')?.customRouterId, dev.id);
});
