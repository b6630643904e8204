// Two clusters in one Oxide project, as two providers with their own tokens (so the simulator's
// request log tells their requests apart) against the simulator over HTTP: under one
// --cluster-name, with the same Service name in both, neither ever writes to the other's floating
// IPs or firewall rules; records of an earlier version are upgraded with one write each.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { silentLogger } from '../../../log.ts';
import type { ClusterIdentity } from '../cluster.ts';
import { formatProviderID } from '../provider-id.ts';
import { SharedNameWatch } from '../same-name.ts';
import { firewallRuleBase } from './firewall-rules.ts';
import { OxideLoadBalancer } from './load-balancer.ts';

const NAME = 'kubernetes';
const A: ClusterIdentity = { name: NAME, id: '7e0c1c61-33a5-4a37-9d1c-0b6d1bb0c7aa' };
const B: ClusterIdentity = { name: NAME, id: '2b9d3f6e-5c1b-4d0e-8f7a-9a3c2e1d0b4f' };
const GO = 'Managed by oxide-cloud-controller-manager.';

let sim: Simulator;
const clients: OxideClient[] = [];

function node(name: string): V1Node {
  const inst = sim.db.findInstance(name);
  return {
    metadata: { name },
    spec: { providerID: formatProviderID(inst.id) },
    status: { addresses: [{ type: 'InternalIP', address: `172.30.0.${name.slice(1)}` }] },
  };
}

function service(namespace: string, name: string, firewall = false): V1Service {
  return {
    metadata: {
      name,
      namespace,
      uid: randomUUID(),
      creationTimestamp: new Date(Date.now() - 3_600_000),
      annotations: firewall ? { 'oxide.computer/firewall': 'true' } : {},
    },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], ipFamilies: ['IPv4'] },
  };
}

/** A cluster's provider, with its own token: the request log labels its requests `principal`. */
function provider(cluster: ClusterIdentity, principal: string, watch?: SharedNameWatch) {
  const token = sim.addToken(principal);
  const client = new OxideClient({ host: sim.url, token, project: sim.project });
  clients.push(client);
  return new OxideLoadBalancer({
    cluster,
    client,
    floatingIpTtlMs: 0,
    firewallSnapshotTtlMs: 0,
    ...(watch ? { sharedName: watch } : {}),
  });
}

/** Writes `principal` sent that name one of `ids` (a FIP's id or name) in the path. */
function writesOn(principal: string, ids: readonly string[]): string[] {
  return sim.requests.entries
    .filter((e) => e.principal === principal && e.method !== 'GET')
    .filter((e) => ids.some((id) => e.path.split('/').includes(id)))
    .map((e) => `${e.method} ${e.path}`);
}

const fipWrites = (principal: string) =>
  sim.requests.entries.filter(
    (e) => e.principal === principal && e.method !== 'GET' && e.path.includes('floating-ips'),
  ).length;

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: ['n1', 'n2'].map((name, i) => ({
        name,
        nics: [{ primary: true, v4: `172.30.0.${i + 1}` }],
      })),
    },
    latencyMs: 0,
  });
});

after(async () => {
  for (const c of clients) await c.close();
  await sim?.stop();
});

beforeEach(() => {
  sim.requests.reset();
  sim.db.floatingIps.length = 0;
});

test('one --cluster-name, two clusters, same/web in both: each its own FIP, neither touches the other', async () => {
  const watchA = new SharedNameWatch(A, silentLogger);
  const watchB = new SharedNameWatch(B, silentLogger);
  const lbA = provider(A, 'a1', watchA);
  const lbB = provider(B, 'b1', watchB);
  const webA = service('same', 'web', true);
  const webB = service('same', 'web', true);

  const statusA = await lbA.ensureLoadBalancer(NAME, webA, [node('n1')]);
  const fipA = structuredClone(sim.db.floatingIps.find((f) => f.name === 'kubernetes-same-web'));
  assert.ok(fipA);
  assert.equal(watchA.problem(), undefined);

  const statusB = await lbB.ensureLoadBalancer(NAME, webB, [node('n2')]);
  const fipB = sim.db.floatingIps.find((f) => f.id !== fipA.id);
  assert.ok(fipB);
  assert.match(fipB.name, /^kubernetes-same-web-H[0-9a-f]{8}$/, 'the alternative name');
  assert.notEqual(statusA.ingress[0]?.ip, statusB.ingress[0]?.ip);
  assert.match(fipB.description, new RegExp(`cluster-id=${B.id}$`));
  assert.match(watchB.problem() ?? '', new RegExp(`another cluster \\(cluster-id=${A.id}\\)`));

  // Resyncs of both, an update to other Nodes, then B's Service goes: A's FIP never moves.
  for (let i = 0; i < 3; i++) {
    await lbA.ensureLoadBalancer(NAME, webA, [node('n1')]);
    await lbB.ensureLoadBalancer(NAME, webB, [node('n2')]);
  }
  await lbB.updateLoadBalancer(NAME, webB, [node('n1')]);
  assert.match(watchA.problem() ?? '', new RegExp(`cluster-id=${B.id}`));
  await lbB.ensureLoadBalancerDeleted(NAME, webB);
  // B, whose Service it is not, deleting a Service of A's name and cluster name.
  await lbB.ensureLoadBalancerDeleted(NAME, service('same', 'web'));

  const now = sim.db.floatingIps.find((f) => f.id === fipA.id);
  assert.deepEqual(now, fipA, "A's FIP: same record, address and instance");
  assert.deepEqual(writesOn('b1', [fipA.id, fipA.name]), [], "B never wrote to A's FIP");
  assert.deepEqual(writesOn('a1', [fipB.id, fipB.name]), [], "A never wrote to B's FIP");
  assert.equal(sim.db.floatingIps.length, 1, "B's FIP deleted with its Service");

  // Firewall rules: A's stay; B's are gone; every rule names its cluster.
  const rules = [...sim.db.rules.values()].flat();
  const baseA = firewallRuleBase(fipA.name);
  const ofA = rules.filter((r) => r.name.startsWith(`${baseA}-`));
  assert.equal(ofA.length, 1);
  assert.match(ofA[0]!.description, new RegExp(`cluster-id=${A.id}$`));
  assert.ok(!rules.some((r) => r.name.startsWith(`${firewallRuleBase(fipB.name)}-`)));
});

test('a record written before identities: one write upgrades it, then none; nothing else changes', async () => {
  const lb = provider(A, 'a2');
  const web = service('shop', 'web');
  const fip = sim.db.createFloatingIp({
    name: 'kubernetes-shop-web',
    description: `${GO} service-uid=${web.metadata?.uid} service=kubernetes/shop/web`,
  });
  sim.db.attachFloatingIp(fip.id, sim.db.findInstance('n1').id);
  const before = structuredClone(sim.db.floatingIps[0]!);

  await lb.ensureLoadBalancer(NAME, web, [node('n1')]);
  assert.equal(fipWrites('a2'), 1);
  assert.equal(sim.requests.count('floating_ip_update'), 1);
  const after = sim.db.floatingIps[0]!;
  assert.equal(after.description, `${before.description} cluster-id=${A.id}`);
  assert.deepEqual(
    { ...after, description: '', timeModified: null },
    { ...before, description: '', timeModified: null },
    'same id, name, address, instance',
  );
  sim.requests.reset();
  await lb.ensureLoadBalancer(NAME, web, [node('n1')]);
  assert.equal(fipWrites('a2'), 0, 'upgraded once');
});

test('a record without identity of this name is taken over only while no other cluster shares the name', async () => {
  const lbA = provider(A, 'a3');
  const lbB = provider(B, 'b3');
  const web = service('p1', 'web');
  // An orphan of an earlier same/web written by v0.8 (no identity) …
  const orphan = sim.db.createFloatingIp({
    name: 'kubernetes-p1-web',
    description: `${GO} service-uid=${randomUUID()} service=kubernetes/p1/web`,
  });
  // … while cluster B's records show it shares the name: it may be B's, so A does not take it.
  await lbB.ensureLoadBalancer(NAME, service('p2', 'api'), [node('n2')]);
  await lbA.ensureLoadBalancer(NAME, web, [node('n1')]);
  const now = sim.db.floatingIps.find((f) => f.id === orphan.id);
  assert.equal(now?.description, orphan.description);
  assert.equal(now?.instanceId ?? null, null);
  assert.deepEqual(writesOn('a3', [orphan.id, orphan.name]), []);
  assert.ok(sim.db.floatingIps.some((f) => /^kubernetes-p1-web-H/.test(f.name)));

  // Alone under the name, the same record is this cluster's orphan, taken over as before.
  sim.db.floatingIps.length = 0;
  const alone = sim.db.createFloatingIp({
    name: 'kubernetes-p1-web',
    description: orphan.description,
  });
  await lbA.ensureLoadBalancer(NAME, web, [node('n1')]);
  const taken = sim.db.floatingIps.find((f) => f.id === alone.id);
  assert.match(
    taken?.description ?? '',
    new RegExp(`service-uid=${web.metadata?.uid} .*cluster-id=${A.id}`),
  );
});
