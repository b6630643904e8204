// The Oxide load balancer against the simulator over real HTTP: Go CCM parity (names,
// description, adoption, annotations, status) and what goes beyond it (failover, spread, v6,
// dual-stack, user FIPs, firewall, convergence after faults), with the calls each step costs.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../log.ts';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { listFloatingIps } from '../../../oxide/floating-ips.ts';
import { InvalidServiceConfigError } from '../../provider.ts';
import { firewallRuleBase } from './firewall-rules.ts';
import { OxideLoadBalancer } from './load-balancer.ts';
import { loadBalancerName } from './spec.ts';
import { formatProviderID } from '../provider-id.ts';

const CLUSTER = 'kubernetes';
let sim: Simulator;
let client: OxideClient;

const NODES: { name: string; v4?: string; v6?: string }[] = [
  { name: 'n1', v4: '172.30.0.11' },
  { name: 'n2', v4: '172.30.0.12' },
  { name: 'n3', v4: '172.30.0.13' },
  { name: 'd1', v4: '172.30.0.21', v6: 'auto' },
];

function node(name: string): V1Node {
  const inst = sim.db.instances.find((i) => i.name === name);
  assert.ok(inst, `instance ${name}`);
  const nic = sim.db.nics.find((n) => n.instanceId === inst.id && n.primary);
  assert.ok(nic, `primary NIC of ${name}`);
  const stack = nic.ipStack;
  const ips =
    stack.type === 'dual_stack' ? [stack.value.v4.ip, stack.value.v6.ip] : [stack.value.ip];
  const addresses = [
    ...ips.map((address) => ({ type: 'InternalIP', address })),
    { type: 'Hostname', address: name },
  ];
  return {
    metadata: { name },
    spec: { providerID: formatProviderID(inst.id) },
    status: { addresses },
  };
}

let uid = 0;
function service(
  name: string,
  extra: Partial<V1Service['spec']> = {},
  annotations = {},
): V1Service {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}-${uid++}`, annotations },
    spec: {
      type: 'LoadBalancer',
      ports: [{ port: 80, protocol: 'TCP' }],
      ipFamilies: ['IPv4'],
      ...extra,
    },
  };
}

const fip = (name: string) => sim.db.floatingIps.find((f) => f.name === name);
const instanceName = (id: string | null | undefined) =>
  sim.db.instances.find((i) => i.id === id)?.name;
/** A TTL no test outlasts, so "within the TTL" is deterministic; expiry is tested with a short one. */
const VIEW_TTL_MS = 60_000;
const newProvider = (floatingIpTtlMs = VIEW_TTL_MS) =>
  new OxideLoadBalancer({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    floatingIpTtlMs,
  });
/** One provider for the whole file, as the controller has: its caches carry across calls. */
let provider: OxideLoadBalancer;
const lb = () => provider;
/** Calls other than floating_ip_list (whose page count depends on how many FIPs exist). */
function calls(): Record<string, number> {
  const { floating_ip_list: _pages, ...rest } = sim.requests.byOperation();
  return rest;
}

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: NODES.map((n) => ({
        name: n.name,
        nics: [{ primary: true, ...(n.v4 ? { v4: n.v4 } : {}), ...(n.v6 ? { v6: n.v6 } : {}) }],
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
  provider = newProvider();
});

after(async () => {
  await client?.close();
  await sim?.stop();
});

beforeEach(() => {
  sim.faults.clear();
  sim.requests.reset();
});

describe('Go CCM parity', () => {
  test('create: exact name, Go description plus owner, attached, status FIP(Proxy) then InternalIPs', async () => {
    const svc = service('web');
    const status = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    const f = fip('kubernetes-default-web');
    assert.ok(f);
    assert.equal(
      f.description,
      `Managed by oxide-cloud-controller-manager. service-uid=${svc.metadata?.uid} service=kubernetes/default/web cluster-id=cluster-a`,
    );
    assert.equal(instanceName(f.instanceId), 'n1');
    assert.deepEqual(status, {
      ingress: [{ ip: f.ip, ipMode: 'Proxy' }, { ip: '172.30.0.11' }],
      targetNodes: ['n1'],
    });
    // The target's primary NIC comes from the project's NIC view: one walk of its subnets
    // (the NIC list ends with the empty page Dropshot always sends), shared by later reconciles.
    assert.deepEqual(calls(), {
      floating_ip_create: 1,
      vpc_list: 1,
      vpc_subnet_list: 1,
      vpc_subnet_list_network_interfaces: 2,
      floating_ip_attach: 1,
    });

    sim.requests.reset();
    const again = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1'), node('n2')]);
    assert.deepEqual(again, status);
    assert.deepEqual(Object.keys(sim.requests.byOperation()), [], 'steady state: the view');

    sim.requests.reset();
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
    assert.equal(fip('kubernetes-default-web'), undefined);
    assert.deepEqual(calls(), {
      floating_ip_detach: 1,
      floating_ip_delete: 1,
    });
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc); // idempotent
    assert.equal(fip('kubernetes-default-web'), undefined);
  });

  test('Services of class oxide.computer/floating-ip are ours too (besides unset)', () => {
    assert.equal(lb().loadBalancerClass, 'oxide.computer/floating-ip');
  });

  test('name is cut to 63 characters with trailing dashes trimmed, as the Go CCM', () => {
    const svc = service('a'.repeat(40));
    svc.metadata!.namespace = 'ns-with-a-long-name-x';
    const name = loadBalancerName(CLUSTER, svc);
    // "kubernetes-ns-with-a-long-name-x-" is 33 characters; the cut lands inside the name.
    assert.equal(name, `kubernetes-ns-with-a-long-name-x-${'a'.repeat(30)}`);
    // 10 + 1 + 51 + 1 + 1 = 64: the cut leaves a trailing '-', which is trimmed.
    const dashy = service('b');
    dashy.metadata!.namespace = 'x'.repeat(51);
    assert.equal(loadBalancerName('c'.repeat(10), dashy), `${'c'.repeat(10)}-${'x'.repeat(51)}`);
    const fits = service('b');
    fits.metadata!.namespace = 'x'.repeat(50);
    assert.equal(loadBalancerName('c'.repeat(10), fits), `${'c'.repeat(10)}-${'x'.repeat(50)}-b`);
    const cut = service('zz');
    cut.metadata!.namespace = 'x'.repeat(52);
    assert.equal(loadBalancerName('c'.repeat(9), cut), `${'c'.repeat(9)}-${'x'.repeat(52)}`);
  });

  test('a Go CCM FIP of the same name is adopted (claimed once), not re-created', async () => {
    sim.db.createFloatingIp({
      name: 'kubernetes-default-legacy',
      description: 'Managed by oxide-cloud-controller-manager.',
      ipVersion: 'v4',
    });
    const before = fip('kubernetes-default-legacy');
    // Pre-existing: there before this CCM started (made within its view's TTL is a later test).
    const started = newProvider();
    const svc = service('legacy');
    const status = await started.ensureLoadBalancer(CLUSTER, svc, [node('n2')]);
    assert.equal(sim.requests.count('floating_ip_create'), 0);
    assert.equal(sim.requests.count('floating_ip_update'), 1, 'claimed: owner written');
    assert.equal(status.ingress[0]?.ip, before?.ip);
    assert.equal(instanceName(fip('kubernetes-default-legacy')?.instanceId), 'n2');
    assert.match(fip('kubernetes-default-legacy')?.description ?? '', /service-uid=uid-legacy-/);
    sim.requests.reset();
    await started.ensureLoadBalancer(CLUSTER, svc, [node('n2')]);
    assert.equal(sim.requests.count('floating_ip_update'), 0, 'claimed once');
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
    assert.equal(fip('kubernetes-default-legacy'), undefined);
  });

  test('oxide.computer/floating-ip and spec.loadBalancerIP reserve that address', async () => {
    const svc = service('explicit', {}, { 'oxide.computer/floating-ip': '198.51.100.77' });
    const status = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    assert.equal(status.ingress[0]?.ip, '198.51.100.77');
    // Changing the address recreates the FIP (detach, delete, create).
    svc.metadata!.annotations = { 'oxide.computer/floating-ip': '198.51.100.78' };
    sim.requests.reset();
    const moved = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    assert.equal(moved.ingress[0]?.ip, '198.51.100.78');
    assert.equal(sim.requests.count('floating_ip_delete'), 1);
    assert.equal(sim.requests.count('floating_ip_create'), 1);
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);

    const legacy = service('lbip', { loadBalancerIP: '198.51.100.79' });
    const s2 = await lb().ensureLoadBalancer(CLUSTER, legacy, [node('n1')]);
    assert.equal(s2.ingress[0]?.ip, '198.51.100.79');
    await lb().ensureLoadBalancerDeleted(CLUSTER, legacy);
  });

  test('pool and version annotations; changing them recreates', async () => {
    const svc = service('pooled', {}, { 'oxide.computer/floating-ip-pool': 'default-v6' });
    const s1 = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1'), node('d1')]);
    assert.match(s1.ingress[0]?.ip ?? '', /^2001:db8:100::/);
    assert.equal(
      instanceName(fip('kubernetes-default-pooled')?.instanceId),
      'd1',
      'v6 only on a v6 NIC',
    );
    await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1'), node('d1')]); // looks the pool up
    sim.requests.reset();
    await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1'), node('d1')]);
    assert.deepEqual(Object.keys(sim.requests.byOperation()), [], 'pool and FIPs cached');

    svc.metadata!.annotations = { 'oxide.computer/floating-ip-version': 'v4' };
    const s2 = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1'), node('d1')]);
    assert.match(s2.ingress[0]?.ip ?? '', /^198\.51\.100\./);
    assert.equal(
      sim.db.floatingIps.filter((f) => f.name === 'kubernetes-default-pooled').length,
      1,
    );
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  for (const [why, annotations, spec] of [
    ['bad address', { 'oxide.computer/floating-ip': '300.1.1.1' }, {}],
    ['bad version', { 'oxide.computer/floating-ip-version': 'v5' }, {}],
    ['bad pool name', { 'oxide.computer/floating-ip-pool': 'Not_A_Name' }, {}],
    ['bad firewall flag', { 'oxide.computer/firewall': 'yes' }, {}],
    [
      'ip + pool',
      { 'oxide.computer/floating-ip': '198.51.100.5', 'oxide.computer/floating-ip-pool': 'p' },
      {},
    ],
    [
      'ip + version',
      { 'oxide.computer/floating-ip': '198.51.100.5', 'oxide.computer/floating-ip-version': 'v4' },
      {},
    ],
    [
      'pool + version',
      { 'oxide.computer/floating-ip-pool': 'p', 'oxide.computer/floating-ip-version': 'v4' },
      {},
    ],
    [
      'name + ip',
      { 'oxide.computer/floating-ip-name': 'mine', 'oxide.computer/floating-ip': '198.51.100.5' },
      {},
    ],
    [
      'loadBalancerIP + pool',
      { 'oxide.computer/floating-ip-pool': 'p' },
      { loadBalancerIP: '198.51.100.5' },
    ],
    [
      'annotation and loadBalancerIP differ',
      { 'oxide.computer/floating-ip': '198.51.100.5' },
      { loadBalancerIP: '198.51.100.6' },
    ],
    ['bad loadBalancerIP', {}, { loadBalancerIP: 'nope' }],
    [
      'version on dual-stack',
      { 'oxide.computer/floating-ip-version': 'v4' },
      { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' },
    ],
    [
      'v6 pool for a v4-primary dual-stack Service',
      { 'oxide.computer/floating-ip-pool': 'default-v6' },
      { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' },
    ],
    [
      'bad source range with firewall',
      { 'oxide.computer/firewall': 'true' },
      { loadBalancerSourceRanges: ['10.0.0.0/33'] },
    ],
  ] as const) {
    test(`invalid: ${why} → InvalidServiceConfigError naming it, nothing created`, async () => {
      const svc = service('bad', spec as Partial<V1Service['spec']>, annotations);
      await assert.rejects(lb().ensureLoadBalancer(CLUSTER, svc, [node('n1')]), (err: Error) => {
        assert.ok(err instanceof InvalidServiceConfigError, String(err));
        assert.match(err.message, /oxide\.computer\/|spec\.loadBalancer/);
        return true;
      });
      for (const op of [
        'floating_ip_create',
        'floating_ip_attach',
        'floating_ip_delete',
        'vpc_firewall_rules_update',
      ]) {
        assert.equal(sim.requests.count(op), 0, op);
      }
    });
  }
});

describe('better than the Go CCM', () => {
  test('failover when the target leaves the eligible set; no flapping while it stays', async () => {
    const svc = service('failover');
    await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1'), node('n2'), node('n3')]);
    const first = instanceName(fip('kubernetes-default-failover')?.instanceId);
    assert.ok(first);
    // Adding Nodes never moves it.
    await lb().updateLoadBalancer(CLUSTER, svc, [node('n1'), node('n2'), node('n3'), node('d1')]);
    assert.equal(instanceName(fip('kubernetes-default-failover')?.instanceId), first);
    const rest = ['n1', 'n2', 'n3'].filter((n) => n !== first);
    sim.requests.reset();
    const status = await lb().updateLoadBalancer(CLUSTER, svc, rest.map(node));
    const now = instanceName(fip('kubernetes-default-failover')?.instanceId);
    assert.ok(now && rest.includes(now), `moved to ${now}`);
    assert.equal(status.ingress[1]?.ip, NODES.find((n) => n.name === now)?.v4);
    assert.equal(sim.requests.count('floating_ip_detach'), 1);
    assert.equal(sim.requests.count('floating_ip_attach'), 1);
    // No eligible Node: the FIP stays where it is, status keeps that Node's address.
    const kept = await lb().ensureLoadBalancer(CLUSTER, svc, []);
    assert.equal(instanceName(fip('kubernetes-default-failover')?.instanceId), now);
    assert.deepEqual(kept, status);
    assert.deepEqual(status.targetNodes, [now]);
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('nodesDown: Nodes whose instance is not running, from one instance list for all', async () => {
    const fresh = newProvider();
    sim.db.setRunState('n2', 'stopped');
    sim.db.setRunState('n3', 'rebooting');
    try {
      sim.requests.reset();
      const down = await fresh.nodesDown(['n1', 'n2', 'n3', 'd1'].map(node));
      assert.deepEqual(down, [
        { node: 'n2', reason: 'instance stopped' },
        { node: 'n3', reason: 'instance rebooting' },
      ]);
      // One list (its pages; Dropshot ends with an empty one), shared by a second caller within
      // the inventory's TTL.
      const pages = sim.requests.count('instance_list');
      assert.deepEqual(await fresh.nodesDown([node('n1')]), []);
      assert.deepEqual(sim.requests.byOperation(), { instance_list: pages });
      assert.ok(pages <= 2, `${pages} pages`);
      // A Node the list cannot place is not reported (absence is not proof).
      const ghost: V1Node = {
        metadata: { name: 'ghost' },
        spec: { providerID: formatProviderID('00000000-0000-4000-8000-000000000000') },
      };
      assert.deepEqual(await fresh.nodesDown([ghost]), []);
    } finally {
      sim.db.setRunState('n2', 'running');
      sim.db.setRunState('n3', 'running');
    }
  });

  test('10 Services on 3 Nodes spread, no Node above 5', async () => {
    const nodes = ['n1', 'n2', 'n3'].map(node);
    const services = Array.from({ length: 10 }, (_, i) => service(`spread-${i}`));
    for (const svc of services) await provider.ensureLoadBalancer(CLUSTER, svc, nodes);
    const perNode = new Map<string, number>();
    for (const f of sim.db.floatingIps.filter((f) => f.name.includes('spread-'))) {
      const n = instanceName(f.instanceId) ?? 'none';
      perNode.set(n, (perNode.get(n) ?? 0) + 1);
    }
    assert.equal(
      [...perNode.values()].reduce((a, b) => a + b, 0),
      10,
    );
    assert.equal(perNode.size, 3, JSON.stringify([...perNode]));
    for (const count of perNode.values()) assert.ok(count <= 5, JSON.stringify([...perNode]));
    for (const svc of services) await provider.ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('a v6 FIP only goes to a Node whose primary NIC has v6', async () => {
    const svc = service('six', { ipFamilies: ['IPv6'] });
    await lb().ensureLoadBalancer(CLUSTER, svc, ['n1', 'n2', 'd1', 'n3'].map(node));
    assert.equal(instanceName(fip('kubernetes-default-six')?.instanceId), 'd1');
    await assert.rejects(
      lb().updateLoadBalancer(CLUSTER, svc, ['n1', 'n2'].map(node)),
      /no eligible Node can take floating IP/,
    );
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('dual-stack: one FIP per family, second named -IPv6, both in status', async () => {
    const svc = service('dual', {
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
    });
    const status = await lb().ensureLoadBalancer(CLUSTER, svc, ['n1', 'd1'].map(node));
    const v4 = fip('kubernetes-default-dual');
    const v6 = fip('kubernetes-default-dual-IPv6');
    assert.ok(v4 && v6);
    assert.match(v4.ip, /^198\./);
    assert.match(v6.ip, /^2001:db8:/);
    assert.equal(instanceName(v6.instanceId), 'd1');
    assert.deepEqual(status.ingress.slice(0, 2), [
      { ip: v4.ip, ipMode: 'Proxy' },
      { ip: v6.ip, ipMode: 'Proxy' },
    ]);
    // Back to single-stack: the second FIP is deleted.
    svc.spec!.ipFamilies = ['IPv4'];
    svc.spec!.ipFamilyPolicy = 'SingleStack';
    await lb().ensureLoadBalancer(CLUSTER, svc, ['n1', 'd1'].map(node));
    assert.equal(fip('kubernetes-default-dual-IPv6'), undefined);
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
    assert.equal(fip('kubernetes-default-dual'), undefined);
  });

  test('oxide.computer/floating-ip-name: attached, detached on delete, never deleted', async () => {
    sim.db.createFloatingIp({
      name: 'my-own-ip',
      description: 'mine k8s-service=kubernetes/default/byname',
      ipVersion: 'v4',
    });
    const svc = service('byname', {}, { 'oxide.computer/floating-ip-name': 'my-own-ip' });
    const status = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n3')]);
    assert.equal(status.ingress[0]?.ip, fip('my-own-ip')?.ip);
    assert.equal(instanceName(fip('my-own-ip')?.instanceId), 'n3');
    assert.equal(sim.requests.count('floating_ip_create'), 0);
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
    assert.ok(fip('my-own-ip'), 'still there');
    assert.equal(fip('my-own-ip')?.instanceId, null);
    assert.equal(sim.requests.count('floating_ip_delete'), 0);
    await assert.rejects(
      lb().ensureLoadBalancer(
        CLUSTER,
        service('x', {}, { 'oxide.computer/floating-ip-name': 'nope' }),
        [node('n1')],
      ),
      /"nope" \(annotation oxide.computer\/floating-ip-name\) is not available to this Service/,
    );
  });

  test('attach fails after create: retry converges, no leaked or duplicate FIPs', async () => {
    const svc = service('flaky');
    sim.faults.add({ operation: 'floating_ip_attach', status: 503, times: 10 });
    await assert.rejects(lb().ensureLoadBalancer(CLUSTER, svc, [node('n2')]));
    sim.faults.clear();
    // A create whose response is lost: the retry sees ObjectAlreadyExists and adopts.
    const status = await lb().ensureLoadBalancer(CLUSTER, svc, [node('n2')]);
    const all = sim.db.floatingIps.filter((f) => f.name.startsWith('kubernetes-default-flaky'));
    assert.equal(all.length, 1);
    assert.equal(status.ingress[0]?.ip, all[0]?.ip);
    assert.equal(instanceName(all[0]?.instanceId), 'n2');
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('two writers create the same FIP at once: the loser adopts it (ObjectAlreadyExists)', async () => {
    const svc = service('race');
    const results = await Promise.all([
      newProvider().ensureLoadBalancer(CLUSTER, svc, [node('n1')]),
      newProvider().ensureLoadBalancer(CLUSTER, svc, [node('n1')]),
    ]);
    assert.equal(sim.requests.count('floating_ip_create'), 2);
    assert.equal(sim.db.floatingIps.filter((f) => f.name === 'kubernetes-default-race').length, 1);
    assert.deepEqual(results[0], results[1]);
    await lb().ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('firewall: rules added, updated, removed; foreign rules untouched', async () => {
    const vpcId = sim.db.vpcs[0]?.id;
    assert.ok(vpcId);
    const foreign = structuredClone(sim.db.firewallRules(vpcId));
    assert.ok(foreign.length > 0, 'the default rules are present');
    const svc = service(
      'fw',
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 53, protocol: 'UDP' },
        ],
        loadBalancerSourceRanges: ['203.0.113.0/24'],
      },
      { 'oxide.computer/firewall': 'true' },
    );
    await provider.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    const base = firewallRuleBase('kubernetes-default-fw');
    const rules = sim.db.firewallRules(vpcId);
    const tcp = rules.find((r) => r.name === `${base}-tcp`);
    const udp = rules.find((r) => r.name === `${base}-udp`);
    assert.ok(tcp && udp);
    assert.deepEqual(tcp.filters.ports, ['443']);
    assert.deepEqual(tcp.filters.hosts, [{ type: 'ip_net', value: '203.0.113.0/24' }]);
    assert.deepEqual(tcp.targets, [{ type: 'ip', value: '172.30.0.11' }]);
    assert.deepEqual(udp.filters.ports, ['53']);
    // Oxide stores the rule set in no particular order and lists it by name.
    const byName = <T extends { name: string }>(rules: T[]) =>
      [...rules].sort((a, b) => a.name.localeCompare(b.name));
    const strip = (r: (typeof foreign)[number]) => ({
      ...r,
      id: '',
      timeCreated: 0,
      timeModified: 0,
    });
    const others = () =>
      sim.db
        .firewallRules(vpcId)
        .filter((r) => !r.name.startsWith(base))
        .map(strip);
    assert.deepEqual(byName(others()), byName(foreign.map(strip)));

    // Steady state: no firewall calls (and the FIP view is fresh).
    sim.requests.reset();
    await provider.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    assert.deepEqual(Object.keys(sim.requests.byOperation()), []);

    // Someone adds a rule by hand meanwhile; a port change keeps it.
    const mine = sim.db.firewallRules(vpcId);
    sim.db.rules.set(vpcId, [
      ...mine,
      { ...structuredClone(mine[0]!), name: 'hand-made', description: 'by a human' },
    ]);
    svc.spec!.ports = [{ port: 8443, protocol: 'TCP' }];
    await lb().ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    const after = sim.db.firewallRules(vpcId);
    assert.ok(after.some((r) => r.name === 'hand-made'));
    assert.deepEqual(after.find((r) => r.name === `${base}-tcp`)?.filters.ports, ['8443']);
    assert.equal(
      after.find((r) => r.name === `${base}-udp`),
      undefined,
    );

    await provider.ensureLoadBalancerDeleted(CLUSTER, svc);
    const final = sim.db.firewallRules(vpcId);
    assert.equal(final.filter((r) => r.name.startsWith(base)).length, 0);
    assert.ok(final.some((r) => r.name === 'hand-made'));
    assert.deepEqual(
      byName(final.filter((r) => r.name !== 'hand-made').map(strip)),
      byName(foreign.map(strip)),
    );
  });
});

describe('one floating-IP view shared by all reconciles', () => {
  /** floating_ip_list requests one full scan of the project's FIPs costs right now. */
  async function oneScan(): Promise<number> {
    const before = sim.requests.count('floating_ip_list');
    await listFloatingIps(client);
    const cost = sim.requests.count('floating_ip_list') - before;
    sim.requests.reset();
    return cost;
  }

  test('20 concurrent ensures for different Services share one list scan and still spread', async () => {
    const nodes = ['n1', 'n2', 'n3'].map(node);
    const services = Array.from({ length: 20 }, (_, i) => service(`shared-${i}`));
    const scan = await oneScan();
    const shared = newProvider();
    await Promise.all(services.map((svc) => shared.ensureLoadBalancer(CLUSTER, svc, nodes)));
    assert.equal(sim.requests.count('floating_ip_list'), scan, 'one scan, not one per Service');
    assert.equal(sim.requests.count('floating_ip_create'), 20);
    assert.equal(sim.requests.count('floating_ip_attach'), 20);
    const perNode = new Map<string, number>();
    for (const f of sim.db.floatingIps.filter((f) => f.name.includes('-shared-'))) {
      const n = instanceName(f.instanceId) ?? 'none';
      perNode.set(n, (perNode.get(n) ?? 0) + 1);
    }
    assert.deepEqual([...perNode.keys()].sort(), ['n1', 'n2', 'n3'], JSON.stringify([...perNode]));
    // Other reconciles' choices count as load even before their attach returns.
    for (const count of perNode.values()) assert.ok(count <= 9, JSON.stringify([...perNode]));
    sim.requests.reset();
    await Promise.all(services.map((svc) => shared.ensureLoadBalancerDeleted(CLUSTER, svc)));
    assert.equal(sim.db.floatingIps.filter((f) => f.name.includes('-shared-')).length, 0);
  });

  test('write-through: ensure right after ensure creates nothing and lists nothing', async () => {
    const scan = await oneScan();
    const fresh = newProvider();
    const svc = service('through');
    const first = await fresh.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    assert.equal(sim.requests.count('floating_ip_list'), scan);
    assert.equal(sim.requests.count('floating_ip_create'), 1);
    sim.requests.reset();
    assert.deepEqual(await fresh.ensureLoadBalancer(CLUSTER, svc, [node('n1')]), first);
    assert.deepEqual(sim.requests.byOperation(), {}, 'the create went into the view');
    // A move is written through too: the next reconcile keeps it where the last one put it.
    await fresh.updateLoadBalancer(CLUSTER, svc, [node('n2')]);
    sim.requests.reset();
    await fresh.ensureLoadBalancer(CLUSTER, svc, [node('n2'), node('n1')]);
    assert.deepEqual(sim.requests.byOperation(), {});
    assert.equal(instanceName(fip('kubernetes-default-through')?.instanceId), 'n2');
    assert.equal(
      sim.db.floatingIps.filter((f) => f.name === 'kubernetes-default-through').length,
      1,
    );
    await fresh.ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('a FIP a user deletes is re-created once the TTL has passed', async () => {
    // Long enough that the second ensure lands inside it on a loaded machine (100 ms did not).
    const ttlMs = 1500;
    const short = newProvider(ttlMs);
    const svc = service('vanish');
    await short.ensureLoadBalancer(CLUSTER, svc, [node('n3')]);
    const gone = fip('kubernetes-default-vanish')?.id;
    sim.db.detachFloatingIp('kubernetes-default-vanish');
    sim.db.deleteFloatingIp('kubernetes-default-vanish');
    sim.requests.reset();
    // Within the TTL the view still has it: that is the documented bound.
    await short.ensureLoadBalancer(CLUSTER, svc, [node('n3')]);
    assert.deepEqual(sim.requests.byOperation(), {});
    await new Promise((resolve) => setTimeout(resolve, ttlMs + 20));
    const status = await short.ensureLoadBalancer(CLUSTER, svc, [node('n3')]);
    const again = fip('kubernetes-default-vanish');
    assert.ok(again, 're-created');
    assert.notEqual(again.id, gone);
    assert.equal(status.ingress[0]?.ip, again.ip);
    assert.equal(instanceName(again.instanceId), 'n3');
    assert.equal(sim.requests.count('floating_ip_create'), 1);
    await short.ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('stale view + ObjectAlreadyExists: one forced list, then the FIP is adopted', async () => {
    const scan = await oneScan();
    const warm = newProvider();
    // Deleting lists afresh: the view is taken now.
    await warm.ensureLoadBalancerDeleted(CLUSTER, service('unrelated'));
    // Made elsewhere (a Go CCM) after the view was taken, within its TTL.
    sim.db.createFloatingIp({
      name: 'kubernetes-default-late',
      description: 'Managed by oxide-cloud-controller-manager.',
      ipVersion: 'v4',
    });
    const made = fip('kubernetes-default-late');
    sim.requests.reset();
    const svc = service('late');
    const status = await warm.ensureLoadBalancer(CLUSTER, svc, [node('n1')]);
    assert.equal(sim.requests.count('floating_ip_create'), 1, 'refused: ObjectAlreadyExists');
    assert.equal(sim.requests.count('floating_ip_list'), scan, 'one forced list');
    assert.equal(sim.db.floatingIps.filter((f) => f.name === 'kubernetes-default-late').length, 1);
    assert.equal(status.ingress[0]?.ip, made?.ip);
    assert.equal(instanceName(fip('kubernetes-default-late')?.instanceId), 'n1');
    await warm.ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('a FIP a user attached within the TTL: attach refused, one forced list, then moved', async () => {
    const fresh = newProvider();
    const svc = service('grabbed');
    await fresh.ensureLoadBalancer(CLUSTER, svc, []); // created, no Node to attach to
    // The user attaches it to n3 by hand; the view says unattached. Attaching to n2 must not wedge.
    sim.db.attachFloatingIp('kubernetes-default-grabbed', 'n3');
    const scan = await oneScan();
    await fresh.updateLoadBalancer(CLUSTER, svc, [node('n2')]);
    assert.equal(instanceName(fip('kubernetes-default-grabbed')?.instanceId), 'n2');
    assert.equal(sim.requests.count('floating_ip_list'), scan);
    assert.equal(sim.requests.count('floating_ip_attach'), 2, 'refused (400), then after detach');
    await fresh.ensureLoadBalancerDeleted(CLUSTER, svc);
  });

  test('one Node list handed to many Services is read once, not once per Service', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    const logged = new OxideLoadBalancer({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client,
      floatingIpTtlMs: VIEW_TTL_MS,
      logger: createLogger({ format: 'json', errorStream: stream }),
    });
    // The list a sweep hands every Service, with one Node the provider cannot use.
    const nodes = [
      ...['n1', 'n2'].map(node),
      { metadata: { name: 'foreign' }, spec: { providerID: 'aws:///i-1' } },
    ];
    const services = Array.from({ length: 5 }, (_, i) => service(`sweep-${i}`));
    for (const svc of services) await logged.ensureLoadBalancer(CLUSTER, svc, nodes);
    for (const svc of services) await logged.updateLoadBalancer(CLUSTER, svc, nodes);
    const skipped = (): number =>
      lines.filter((l) => l.includes('skipping Node without an Oxide providerID')).length;
    assert.equal(skipped(), 1, 'the list is read once for all 10 calls');
    // A new list (a Node changed) is read again.
    await logged.updateLoadBalancer(CLUSTER, services[0]!, [...nodes]);
    assert.equal(skipped(), 2);
    for (const svc of services) await logged.ensureLoadBalancerDeleted(CLUSTER, svc);
  });
});
