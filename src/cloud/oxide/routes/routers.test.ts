// The routers step keeps "found none" and "made one" on one key: callers that need the router
// and join a lookup that found none still share a single creation, and what it made answers
// every later lookup without another list.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { createRouter, listRouters } from '../../../oxide/routers.ts';
import { viewVpcByName } from '../../../oxide/vpcs.ts';
import { Routers } from './routers.ts';
import { routerDescription, routerName } from './names.ts';
import { SharedNameWatch } from '../same-name.ts';
import { silentLogger } from '../../../log.ts';

let sim: Simulator;
let client: OxideClient;

before(async () => {
  sim = await startSimulator({ seed: { project: 'k8s' }, latencyMs: 0 });
  client = new OxideClient({ host: sim.url, token: sim.token, project: 'k8s', maxRetries: 0 });
});

after(async () => {
  await client.close();
  await sim.stop();
});

test('ensures that join a lookup finding no router share one creation; later finds list nothing', async () => {
  const vpcId = (await viewVpcByName(client, 'default')).id;
  const routers = new Routers(client, 'cluster-a');
  // Requests one lookup makes (a list reads pages until a short one).
  sim.requests.reset();
  await listRouters(client, vpcId);
  const perList = sim.requests.count('vpc_router_list');
  sim.requests.reset();
  // The lookup is slow, so every ensure below joins it and learns "none" from it.
  sim.faults.add({ operation: 'vpc_router_list', latencyMs: 200, times: 1 });
  const finding = routers.find('c', vpcId);
  const ensured = await Promise.all(Array.from({ length: 5 }, () => routers.ensure('c', vpcId)));
  assert.equal(await finding, undefined);
  assert.equal(new Set(ensured.map((r) => r.id)).size, 1);
  assert.equal(sim.requests.count('vpc_router_list'), perList, 'one lookup');
  assert.equal(sim.requests.count('vpc_router_create'), 1);
  assert.equal((await routers.find('c', vpcId))?.id, ensured[0]?.id);
  assert.equal(sim.requests.count('vpc_router_list'), perList, 'the created router is known');

  // Deleted behind our back: forgotten, then found missing and made again.
  routers.forget(vpcId);
  sim.db.routers.splice(
    sim.db.routers.findIndex((r) => r.id === ensured[0]?.id),
    1,
  );
  const again = await routers.ensure('c', vpcId);
  assert.notEqual(again.id, ensured[0]?.id);
  assert.equal(sim.requests.count('vpc_router_create'), 2);
});

test("a router of this cluster's name that another cluster's record names is never used; v0.8's is upgraded once", async () => {
  const vpcId = (await viewVpcByName(client, 'default')).id;
  const watch = new SharedNameWatch({ name: 'two', id: 'cluster-a' }, silentLogger);
  const theirs = await createRouter(
    client,
    vpcId,
    routerName('two'),
    routerDescription({ name: 'two', id: 'cluster-b' }),
  );
  const routers = new Routers(client, 'cluster-a', watch);
  sim.requests.reset();
  await assert.rejects(
    routers.ensure('two', vpcId),
    /router two-pods in VPC .* belongs to another cluster \(cluster-id=cluster-b\)/,
  );
  assert.equal(sim.requests.count('vpc_router_create'), 0);
  assert.equal(sim.requests.count('vpc_router_update'), 0);
  assert.match(
    watch.problem() ?? '',
    /another cluster \(cluster-id=cluster-b\) uses --cluster-name "two"/,
  );
  assert.equal(sim.db.routers.find((r) => r.id === theirs.id)?.description, theirs.description);

  // The same router with v0.8's record: this cluster's, its identity written once.
  sim.db.routers.find((r) => r.id === theirs.id)!.description = routerDescription({
    name: 'two',
    id: '',
  });
  const upgraded = new Routers(client, 'cluster-a', watch);
  sim.requests.reset();
  const found = await upgraded.find('two', vpcId);
  assert.equal(found?.id, theirs.id);
  assert.equal(found?.description, routerDescription({ name: 'two', id: 'cluster-a' }));
  assert.equal(sim.requests.count('vpc_router_update'), 1);
  assert.equal(watch.problem(), undefined, 'no other cluster any more');
  await upgraded.find('two', vpcId);
  assert.equal(sim.requests.count('vpc_router_update'), 1, 'once');
});
