// The start-up look for another cluster under this --cluster-name, against the simulator: from
// floating-IP records, and from routers where the route controller runs.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { startSimulator } from '../../../sim/server.ts';
import type { Simulator } from '../../../sim/server.ts';
import { silentLogger } from '../../log.ts';
import { OxideClient } from '../../oxide/client.ts';
import { createRouter } from '../../oxide/routers.ts';
import { viewVpcByName } from '../../oxide/vpcs.ts';
import { ownedDescription } from './load-balancer/owner.ts';
import { routerDescription, routerName } from './routes/names.ts';
import { SharedNameWatch } from './same-name.ts';

const A = { name: 'kubernetes', id: 'cluster-a' };
const B = { name: 'kubernetes', id: 'cluster-b' };
let sim: Simulator;
let client: OxideClient;

before(async () => {
  sim = await startSimulator({ seed: { project: 'k8s' }, latencyMs: 0 });
  client = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
});

after(async () => {
  await client.close();
  await sim.stop();
});

beforeEach(() => {
  sim.db.floatingIps.length = 0;
  sim.requests.reset();
});

const fipOf = (cluster: { name: string; id: string }, name: string) =>
  sim.db.createFloatingIp({
    name,
    description: ownedDescription({
      uid: `uid-${name}`,
      key: `${cluster.name}/ns/${name}`,
      cluster,
    }),
  });

test('floating-IP records: another identity under this name is found; under another name it is not', async () => {
  const watch = new SharedNameWatch(A, silentLogger);
  assert.equal(await watch.check([client], undefined), undefined);
  fipOf(A, 'mine');
  fipOf({ name: 'prod', id: 'cluster-c' }, 'prod-one');
  assert.equal(await watch.check([client], undefined), undefined, 'own records and other names');
  fipOf(B, 'theirs');
  assert.equal(
    await watch.check([client], undefined),
    'another cluster (cluster-id=cluster-b) uses --cluster-name "kubernetes" (its floating IPs in ' +
      'project "k8s"; this cluster is cluster-id=cluster-a): give each cluster its own ' +
      "--cluster-name (docs/clusters.md); neither touches the other's objects meanwhile",
  );
  assert.equal(sim.requests.count('vpc_list'), 0, 'no router look without routes');
  sim.db.floatingIps.length = 0;
  assert.equal(await watch.check([client], undefined), undefined, 'gone: the start goes on');
});

test('routers: looked at only where routes run; one naming another identity is found', async () => {
  const vpc = await viewVpcByName(client, 'default');
  await createRouter(client, vpc.id, routerName('kubernetes'), routerDescription(B));
  const watch = new SharedNameWatch(A, silentLogger);
  assert.equal(await watch.check([client], undefined), undefined);
  assert.match(
    (await watch.check([client], {})) ?? '',
    new RegExp(
      `cluster-id=cluster-b\\) uses --cluster-name "kubernetes" \\(its router in VPC ${vpc.id};`,
    ),
  );
  assert.match((await watch.check([client], { vpc: 'default' })) ?? '', /cluster-id=cluster-b/);
  // The cluster whose identity the router names finds no one else.
  const other = new SharedNameWatch({ name: 'kubernetes', id: 'cluster-b' }, silentLogger);
  assert.equal(await other.check([client], {}), undefined, 'its own router');
});

test('several projects: a record in any configured project is found, and says which', async () => {
  sim.db.addProject('team-b');
  sim.db.createFloatingIp({
    name: 'theirs',
    project: 'team-b',
    description: ownedDescription({ uid: 'u', key: 'kubernetes/ns/theirs', cluster: B }),
  });
  const watch = new SharedNameWatch(A, silentLogger);
  assert.equal(await watch.check([client], undefined), undefined, 'not in the default project');
  assert.match(
    (await watch.check([client, client.forProject('team-b')], undefined)) ?? '',
    /cluster-id=cluster-b\) uses --cluster-name "kubernetes" \(its floating IPs in project "team-b";/,
  );
});
