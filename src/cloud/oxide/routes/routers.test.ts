// The routers step keeps "found none" and "made one" on one key: callers that need the router
// and join a lookup that found none still share a single creation, and what it made answers
// every later lookup without another list.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { listRouters } from '../../../oxide/routers.ts';
import { viewVpcByName } from '../../../oxide/vpcs.ts';
import { Routers } from './routers.ts';

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
  const routers = new Routers(client);
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
