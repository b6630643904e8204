// Issue 20, items 6 and 8, against the simulator over HTTP: a Service cannot take another's
// address by spelling it differently, and a floating IP attached to an instance that is not a
// Node of the cluster is never detached or deleted, whatever its description says (a copied
// owner record), while a floating IP on a Node that is merely not a candidate still moves.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { formatProviderID } from '../provider-id.ts';
import { OxideLoadBalancer } from './load-balancer.ts';
import { FloatingIpConflictError } from './owner.ts';
import { FLOATING_IP_OUTSIDE_CLUSTER } from './warnings.ts';

const CLUSTER = 'kubernetes';
let sim: Simulator;
let client: OxideClient;

function node(name: string): V1Node {
  return {
    metadata: { name },
    spec: { providerID: formatProviderID(sim.db.findInstance(name).id) },
    status: { addresses: [{ type: 'InternalIP', address: '172.30.0.9' }] },
  };
}

function service(name: string, annotations: Record<string, string> = {}): V1Service {
  return {
    metadata: { name, namespace: 'ns', uid: randomUUID(), annotations },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], ipFamilies: ['IPv4'] },
  };
}

/** A provider that sees every change at once (no FIP view TTL), knowing the cluster's Nodes. */
function provider(): OxideLoadBalancer {
  const lb = new OxideLoadBalancer({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    floatingIpTtlMs: 0,
  });
  lb.setNodeLister(() => ['n1', 'n2'].map(node));
  return lb;
}

const fip = (name: string) => sim.db.findFloatingIp(name);
const writes = () =>
  ['create', 'update', 'attach', 'detach', 'delete'].reduce(
    (n, op) => n + sim.requests.count(`floating_ip_${op}`),
    0,
  );

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: ['n1', 'n2', 'vm'].map((name, i) => ({
        name,
        nics: [{ primary: true, v4: `172.30.0.${i + 1}`, v6: 'auto' }],
      })),
    },
    latencyMs: 0,
  });
  client = new OxideClient({
    host: sim.url,
    token: sim.token,
    project: sim.project,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
});

after(async () => {
  await client?.close();
  await sim?.stop();
});

beforeEach(() => sim.requests.reset());

test("a Service cannot take another's address by spelling it differently", async () => {
  const lb = provider();
  const v4 = await lb.ensureLoadBalancer(CLUSTER, service('victim4'), [node('n1')]);
  const v6 = await lb.ensureLoadBalancer(
    CLUSTER,
    service('victim6', { 'oxide.computer/floating-ip-version': 'v6' }),
    [node('n1')],
  );
  const a = v4.ingress[0]?.ip ?? '';
  const b = v6.ingress[0]?.ip ?? '';
  assert.match(a, /^198\.51\.100\./);
  assert.match(b, /^2001:db8:100::/);
  const octets = a.split('.').map(Number);
  const hex = (hi = 0, lo = 0) => ((hi << 8) | lo).toString(16);
  const spellings = [
    `::ffff:${a}`,
    `::FFFF:${a}`,
    `0:0:0:0:0:ffff:${a}`,
    `::ffff:${hex(octets[0], octets[1])}:${hex(octets[2], octets[3])}`,
    b.toUpperCase(),
    b.replace('::', ':0:0:0:0:'),
    b.replace('2001:db8:100::', '2001:0db8:0100:0000:0000:0000:0000:00'),
  ];
  const before = structuredClone(sim.db.floatingIps);
  const writesBefore = writes();
  for (const spelling of spellings) {
    await assert.rejects(
      lb.ensureLoadBalancer(CLUSTER, service('thief', { 'oxide.computer/floating-ip': spelling }), [
        node('n2'),
      ]),
      (err: unknown) => err instanceof FloatingIpConflictError && /does not own/.test(err.message),
      spelling,
    );
  }
  assert.equal(writes(), writesBefore, 'nothing written for the thief');
  assert.deepEqual(sim.db.floatingIps, before);
});

test('a copied owner record on a FIP of a non-Node instance: never detached or deleted, warned', async () => {
  const lb = provider();
  const svc = service('web');
  await lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
  const own = fip('kubernetes-ns-web');
  assert.equal(own.instanceId, sim.db.findInstance('n1').id);
  // Someone copies the description onto a FIP of a VM outside Kubernetes.
  const vm = sim.db.findInstance('vm');
  sim.db.createFloatingIp({ name: 'forged', description: own.description, instance: 'vm' });

  const status = await lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
  const warnings = status.warnings ?? [];
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.equal(warnings[0]?.reason, FLOATING_IP_OUTSIDE_CLUSTER);
  assert.match(warnings[0]?.message ?? '', new RegExp(`floating IP forged .*instance ${vm.id}`));
  assert.equal(fip('forged').instanceId, vm.id, 'still on the VM');

  // Failover still works: n1 is a Node (not a candidate now), so its FIP moves to n2.
  const moved = await lb.updateLoadBalancer(CLUSTER, svc, [node('n2')]);
  assert.equal(fip('kubernetes-ns-web').instanceId, sim.db.findInstance('n2').id);
  assert.equal(moved.warnings?.[0]?.reason, FLOATING_IP_OUTSIDE_CLUSTER);

  // Deleting the Service deletes its own FIP and leaves the forged one where it is.
  const left = await lb.ensureLoadBalancerDeleted(CLUSTER, svc);
  assert.throws(() => fip('kubernetes-ns-web'));
  assert.equal(fip('forged').instanceId, vm.id);
  assert.deepEqual(
    left.map((w) => w.reason),
    [FLOATING_IP_OUTSIDE_CLUSTER],
  );
  const forged = fip('forged');
  const touched = sim.requests.entries.filter(
    (e) => e.method !== 'GET' && (e.path.includes(forged.id) || e.path.includes('forged')),
  );
  assert.deepEqual(touched, [], 'no write to the forged FIP');
  sim.db.detachFloatingIp('forged');
  sim.db.deleteFloatingIp('forged');
});

test("the Service's own FIP (its name and record) moves from any instance, as from a deleted Node's", async () => {
  const lb = provider();
  const svc = service('own');
  await lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
  sim.db.detachFloatingIp('kubernetes-ns-own');
  sim.db.attachFloatingIp('kubernetes-ns-own', 'vm');
  const status = await lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
  assert.equal(fip('kubernetes-ns-own').instanceId, sim.db.findInstance('n1').id);
  assert.equal(status.warnings, undefined);
  await lb.ensureLoadBalancerDeleted(CLUSTER, svc);
});

test('a copied record when the Service has no FIP of its own: it gets a new one, the copy stays', async () => {
  const lb = provider();
  const svc = service('fresh');
  await lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
  const description = fip('kubernetes-ns-fresh').description;
  sim.db.detachFloatingIp('kubernetes-ns-fresh');
  sim.db.deleteFloatingIp('kubernetes-ns-fresh');
  const copy = sim.db.createFloatingIp({ name: 'copy', description, instance: 'vm' });
  const status = await lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
  assert.notEqual(status.ingress[0]?.ip, copy.ip);
  assert.equal(fip('kubernetes-ns-fresh').instanceId, sim.db.findInstance('n1').id);
  assert.equal(fip('copy').instanceId, sim.db.findInstance('vm').id);
  assert.deepEqual(
    status.warnings?.map((w) => w.reason),
    [FLOATING_IP_OUTSIDE_CLUSTER],
  );
  await lb.ensureLoadBalancerDeleted(CLUSTER, svc);
  assert.equal(fip('copy').instanceId, sim.db.findInstance('vm').id);
});
