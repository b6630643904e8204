// Load balancers with Nodes in two projects (--oxide-projects a,b), against the simulator, which
// refuses to attach a floating IP to an instance of another project as Oxide does. A Service's
// floating IP lives in the project its annotation oxide.computer/project names (default: the
// first), is placed only on Nodes whose instance is in that project, and a project that is not
// configured, or that has no eligible Node, is refused before anything is created.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, beforeEach, test } from 'node:test';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { createLogger } from '../../../log.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { InvalidServiceConfigError } from '../../provider.ts';
import { OxideCloudProvider } from '../provider.ts';
import { formatProviderID } from '../provider-id.ts';
import { PROJECT } from './annotations.ts';
import { NoNodeInProjectError } from './project-scope.ts';

const CLUSTER = 'kubernetes';
let sim: Simulator;
let client: OxideClient;
let cloud: OxideCloudProvider;

/** A Node as the node controller leaves it, but without the project label: placement must look. */
function node(name: string): V1Node {
  const inst = sim.db.instances.find((i) => i.name === name);
  assert.ok(inst, `instance ${name}`);
  return {
    metadata: { name },
    spec: { providerID: formatProviderID(inst.id) },
    status: { addresses: [{ type: 'Hostname', address: name }] },
  };
}

let uid = 0;
function service(name: string, project?: string): V1Service {
  return {
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}-${uid++}`,
      annotations: project ? { [PROJECT.name]: project } : {},
    },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], ipFamilies: ['IPv4'] },
  };
}

const projectOf = (id: string | null | undefined): string | undefined => {
  const inst = sim.db.instances.find((i) => i.id === id);
  return sim.db.projects.find((p) => p.id === inst?.projectId)?.name;
};
const fipsOf = (name: string) =>
  sim.db.floatingIps.filter((f) => f.name === `${CLUSTER}-default-${name}`);
const all = () => [node('a1'), node('b1'), node('b2')];

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'a',
      instances: [{ name: 'a1', nics: [{ primary: true, v4: '172.30.0.5' }] }],
    },
    latencyMs: 0,
  });
  sim.db.addProject('b');
  sim.db.addProject('c');
  for (const [name, v4] of [
    ['b1', '172.30.1.5'],
    ['b2', '172.30.1.6'],
  ] as const) {
    sim.db.addInstance({ name, project: 'b', nics: [{ primary: true, v4 }] });
  }
  client = new OxideClient({
    host: sim.url,
    token: sim.token,
    project: 'a',
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
  cloud = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    projects: ['a', 'b'],
    inventory: { ttlMs: 0 },
  });
});

after(async () => {
  await client?.close();
  await sim?.stop();
});

beforeEach(() => {
  sim.faults.clear();
  sim.requests.reset();
});

test('no annotation: the default project’s floating IP, on its Node only', async () => {
  const lb = cloud.loadBalancer();
  const svc = service('web-a');
  const status = await lb.ensureLoadBalancer(CLUSTER, svc, all());
  const [fip] = fipsOf('web-a');
  assert.ok(fip);
  assert.equal(sim.db.projects.find((p) => p.id === fip.projectId)?.name, 'a');
  assert.equal(projectOf(fip.instanceId), 'a');
  assert.equal(status.ingress[0]?.ip, fip.ip);
  await lb.ensureLoadBalancerDeleted(CLUSTER, svc);
  assert.equal(fipsOf('web-a').length, 0);
});

test('annotated b: created in b, placed on b’s Nodes, moved within b, deleted from b', async () => {
  const lb = cloud.loadBalancer();
  const svc = service('web-b', 'b');
  await lb.ensureLoadBalancer(CLUSTER, svc, all());
  const [fip] = fipsOf('web-b');
  assert.ok(fip);
  assert.equal(sim.db.projects.find((p) => p.id === fip.projectId)?.name, 'b');
  assert.equal(projectOf(fip.instanceId), 'b');
  // Its Node leaves: the other Node of b takes it, never a1 (which stays eligible).
  const on = sim.db.instances.find((i) => i.id === fip.instanceId)?.name ?? '';
  const other = on === 'b1' ? 'b2' : 'b1';
  await lb.updateLoadBalancer(CLUSTER, svc, [node('a1'), node(other)]);
  assert.equal(sim.db.instances.find((i) => i.id === fipsOf('web-b')[0]?.instanceId)?.name, other);
  await lb.ensureLoadBalancerDeleted(CLUSTER, svc);
  assert.equal(fipsOf('web-b').length, 0);
});

test('annotated with a project not configured: a clear refusal and nothing created', async () => {
  const lb = cloud.loadBalancer();
  const before = sim.db.floatingIps.length;
  await assert.rejects(
    lb.ensureLoadBalancer(CLUSTER, service('web-c', 'c'), all()),
    (err: unknown) =>
      err instanceof InvalidServiceConfigError &&
      err.message ===
        'annotation oxide.computer/project: project "c" is not one of the projects this cloud controller manager serves (a, b)',
  );
  assert.equal(sim.db.floatingIps.length, before);
  assert.equal(sim.requests.count('floating_ip_create'), 0);
});

test('eligible Nodes only in other projects: refused before anything is created', async () => {
  const lb = cloud.loadBalancer();
  const svc = service('web-lonely', 'b');
  await assert.rejects(
    lb.ensureLoadBalancer(CLUSTER, svc, [node('a1')]),
    (err: unknown) =>
      err instanceof NoNodeInProjectError &&
      /no eligible Node has its instance in project b/.test(err.message),
  );
  assert.equal(fipsOf('web-lonely').length, 0);
  assert.equal(sim.requests.count('floating_ip_create'), 0);
});

test('the annotation changes from a to b: a’s floating IP goes, b gets one', async () => {
  const lb = cloud.loadBalancer();
  const svc = service('web-move');
  await lb.ensureLoadBalancer(CLUSTER, svc, all());
  assert.equal(projectOf(fipsOf('web-move')[0]?.instanceId), 'a');
  const moved = structuredClone(svc);
  moved.metadata = moved.metadata ?? {};
  moved.metadata.annotations = { [PROJECT.name]: 'b' };
  await lb.ensureLoadBalancer(CLUSTER, moved, all());
  const now = fipsOf('web-move');
  assert.equal(now.length, 1, JSON.stringify(now.map((f) => [f.name, f.projectId])));
  assert.equal(sim.db.projects.find((p) => p.id === now[0]?.projectId)?.name, 'b');
  assert.equal(projectOf(now[0]?.instanceId), 'b');
  await lb.ensureLoadBalancerDeleted(CLUSTER, moved);
  assert.equal(fipsOf('web-move').length, 0);
});

test("nodesDown: each Node's instance is read from its labelled project's list, only those projects listed", async () => {
  const lb = cloud.loadBalancer();
  const labelled = (name: string, project: string): V1Node => {
    const n = node(name);
    n.metadata = { name, labels: { 'oxide.computer/project': project } };
    return n;
  };
  sim.db.setRunState('b2', 'failed');
  try {
    const down = await lb.nodesDown?.([labelled('b1', 'b'), labelled('b2', 'b')]);
    assert.deepEqual(down, [{ node: 'b2', reason: 'instance failed' }]);
    // Only project b's instances were listed: its Nodes' label says where to look.
    const lists = sim.requests.entries.filter((e) => e.operationId === 'instance_list');
    assert.ok(lists.length > 0);
    assert.ok(
      lists.every((e) => e.query.includes('project=b')),
      lists.map((e) => e.query).join(' '),
    );
    // Without a label, the default project's list: b2 is not there, so it is not reported.
    assert.deepEqual(await lb.nodesDown?.([node('b2')]), []);
  } finally {
    sim.db.setRunState('b2', 'running');
  }
});

test('the provider hands its logger to the load balancer: what it created is logged', async () => {
  // Before, the provider built its load balancer without one: in the process, "created floating
  // IP" and the other lines of the pipeline went nowhere.
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  const logged = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    projects: ['a', 'b'],
    inventory: { ttlMs: 0 },
    logger: createLogger({ format: 'json', errorStream: stream }),
  });
  const svc = service('logged');
  const status = await logged.loadBalancer().ensureLoadBalancer(CLUSTER, svc, all());
  const ip = status.ingress[0]?.ip;
  assert.ok(ip);
  const lines = out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { msg?: string; floatingIp?: string; ip?: string });
  assert.ok(
    lines.some(
      (l) =>
        l.msg === 'created floating IP' &&
        l.floatingIp === `${CLUSTER}-default-logged` &&
        l.ip === ip,
    ),
    out,
  );
  await logged.loadBalancer().ensureLoadBalancerDeleted(CLUSTER, svc);
  assert.equal(fipsOf('logged').length, 0);
});
