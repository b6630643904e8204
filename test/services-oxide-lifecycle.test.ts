// LoadBalancer Services end to end on Oxide: the service controller and the Oxide provider
// together against a real kube-apiserver and the simulator, Nodes initialized by the node
// controller. Create, adopt, annotations (valid, invalid, changed), dual-stack, firewall, Oxide
// faults and delete; each step checks both what the apiserver holds and what sim.db holds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { firewallRuleBase } from '../src/cloud/oxide/load-balancer/firewall-rules.ts';
import { FLOATING_IP_VIEW_TTL_MS } from '../src/oxide/floating-ips.ts';
import { waitFor } from './harness/context.ts';
import {
  CLUSTER,
  DESCRIPTION,
  createService,
  deleteService,
  events,
  fip,
  fipName,
  fipsNamed,
  getService,
  hasFinalizer,
  instanceName,
  reasons,
  serviceGone,
  settled,
  startEnv,
} from './harness/services-oxide-env.ts';
import type { Env } from './harness/services-oxide-env.ts';

let env: Env;

before(async () => {
  env = await startEnv({
    namespace: 'lc',
    instances: [
      { name: 'na', nics: [{ primary: true, v4: '172.30.0.11' }] },
      { name: 'nb', nics: [{ primary: true, v4: '172.30.0.12', v6: 'auto' }] },
      { name: 'nc', nics: [{ primary: true, v4: '172.30.0.13' }] },
    ],
  });
});

after(async () => {
  await env?.stop();
});

async function deleted(service: string, fips: string[]): Promise<void> {
  await deleteService(env, service);
  await waitFor(`${service} gone`, () => serviceGone(env, service));
  for (const name of fips) assert.equal(fipsNamed(env, name).length, 0, `${name} deleted`);
}

test('create: Go CCM name and description, attached, exact status, finalizer, events', async () => {
  await createService(env, 'web');
  const name = fipName(env, 'web');
  assert.equal(name, 'kubernetes-lc-web');
  const { svc, fips } = await settled(env, 'web', [name]);
  const [f] = fips;
  assert.ok(f);
  // The Go CCM's text, then the owner record (docs/annotations.md, Ownership).
  assert.equal(
    f.description,
    `${DESCRIPTION} service-uid=${svc.metadata?.uid} service=${CLUSTER}/lc/web cluster-id=cluster-a`,
  );
  assert.match(f.ip, /^198\.51\.100\./);
  const target = instanceName(env, f.instanceId);
  assert.ok(target && ['na', 'nb', 'nc'].includes(target));
  const nodeIps = { na: ['172.30.0.11'], nc: ['172.30.0.13'] }[target as 'na' | 'nc'];
  if (nodeIps) {
    assert.deepEqual(svc.status?.loadBalancer?.ingress, [
      { ip: f.ip, ipMode: 'Proxy' },
      ...nodeIps.map((ip) => ({ ip, ipMode: 'VIP' })),
    ]);
  }
  assert.ok(hasFinalizer(svc));
  const seen = await waitFor('events', async () => {
    const r = await reasons(env, 'web');
    return r.includes('EnsuredLoadBalancer') ? r : undefined;
  });
  assert.ok(seen.includes('EnsuringLoadBalancer'));
  assert.equal((await events(env, 'web')).filter((e) => e.type === 'Warning').length, 0);
  assert.equal(env.sim.db.floatingIps.filter((x) => x.name === name).length, 1);
});

test('delete: FIP detached and deleted, finalizer removed, Service gone', async () => {
  const name = fipName(env, 'web');
  assert.ok(fip(env, name));
  const detaches = env.sim.requests.count('floating_ip_detach');
  await deleted('web', [name]);
  assert.equal(env.sim.requests.count('floating_ip_detach'), detaches + 1);
  const r = await reasons(env, 'web');
  assert.ok(r.includes('DeletingLoadBalancer') && r.includes('DeletedLoadBalancer'), String(r));
});

test('adoption: a FIP of the same name (Go CCM) is used, never created', async () => {
  const name = fipName(env, 'adopt');
  const existing = env.sim.db.createFloatingIp({
    name,
    description: DESCRIPTION,
    ip: '198.51.100.200',
  });
  // A Go CCM's FIP predates the CCM's shared FIP view; one made within its TTL is first refused
  // as ObjectAlreadyExists, then adopted (src/cloud/oxide/load-balancer/load-balancer.test.ts).
  await new Promise((resolve) => setTimeout(resolve, FLOATING_IP_VIEW_TTL_MS));
  const creates = env.sim.requests.count('floating_ip_create');
  await createService(env, 'adopt');
  const { svc, fips } = await settled(env, 'adopt', [name]);
  assert.equal(fips[0]?.id, existing.id);
  assert.equal(svc.status?.loadBalancer?.ingress?.[0]?.ip, '198.51.100.200');
  assert.equal(env.sim.requests.count('floating_ip_create'), creates);
  await deleted('adopt', [name]);
});

test('annotation floating-ip: that address; changing it deletes the old FIP and creates a new one', async () => {
  const name = fipName(env, 'explicit');
  await createService(env, 'explicit', {
    annotations: { 'oxide.computer/floating-ip': '198.51.100.77' },
  });
  const first = (await settled(env, 'explicit', [name])).fips[0];
  assert.equal(first?.ip, '198.51.100.77');

  await env.kube.patch(`/api/v1/namespaces/${env.ns}/services/explicit`, 'merge', {
    metadata: { annotations: { 'oxide.computer/floating-ip': '198.51.100.78' } },
  });
  const second = await waitFor('recreated', () => {
    const f = fip(env, name);
    return f?.ip === '198.51.100.78' && f.instanceId ? f : undefined;
  });
  assert.notEqual(second.id, first?.id);
  assert.equal(
    env.sim.db.floatingIps.some((f) => f.id === first?.id),
    false,
    'old FIP deleted',
  );
  await settled(env, 'explicit', [name]);
  await deleted('explicit', [name]);
});

test('annotation floating-ip-pool: from that pool, on a Node whose primary NIC has its family', async () => {
  const name = fipName(env, 'pooled');
  await createService(env, 'pooled', {
    annotations: { 'oxide.computer/floating-ip-pool': 'default-v6' },
  });
  const { fips, svc } = await settled(env, 'pooled', [name]);
  const pool = env.sim.db.pools.find((p) => p.pool.name === 'default-v6')?.pool;
  assert.equal(fips[0]?.ipPoolId, pool?.id);
  assert.match(fips[0]?.ip ?? '', /^2001:db8:100::/);
  assert.equal(instanceName(env, fips[0]?.instanceId), 'nb', 'only nb has v6');
  assert.equal(svc.status?.loadBalancer?.ingress?.[0]?.ipMode, 'Proxy');
  await deleted('pooled', [name]);
});

test('annotation floating-ip-version: v6 on the v6 Node; v6 → v4 recreates', async () => {
  const name = fipName(env, 'six');
  await createService(env, 'six', {
    annotations: { 'oxide.computer/floating-ip-version': 'v6' },
  });
  const first = (await settled(env, 'six', [name])).fips[0];
  assert.match(first?.ip ?? '', /^2001:db8:100::/);
  assert.equal(instanceName(env, first?.instanceId), 'nb');

  await env.kube.patch(`/api/v1/namespaces/${env.ns}/services/six`, 'merge', {
    metadata: { annotations: { 'oxide.computer/floating-ip-version': 'v4' } },
  });
  await waitFor('v4 now', () => /^198\.51\.100\./.test(fip(env, name)?.ip ?? ''));
  const { fips } = await settled(env, 'six', [name]);
  assert.notEqual(fips[0]?.id, first?.id);
  assert.equal(env.sim.db.floatingIps.filter((f) => f.name === name).length, 1);
  await deleted('six', [name]);
});

const INVALID: [string, string, Record<string, string>, Record<string, unknown>][] = [
  ['bad-ip', 'oxide.computer/floating-ip', { 'oxide.computer/floating-ip': '300.1.1.1' }, {}],
  [
    'bad-version',
    'oxide.computer/floating-ip-version',
    { 'oxide.computer/floating-ip-version': 'v5' },
    {},
  ],
  [
    'bad-pool',
    'oxide.computer/floating-ip-pool',
    { 'oxide.computer/floating-ip-pool': 'Not_A_Name' },
    {},
  ],
  ['bad-fw', 'oxide.computer/firewall', { 'oxide.computer/firewall': 'yes' }, {}],
  [
    'ip-pool',
    'oxide.computer/floating-ip',
    { 'oxide.computer/floating-ip': '198.51.100.5', 'oxide.computer/floating-ip-pool': 'p' },
    {},
  ],
  [
    'ip-version',
    'oxide.computer/floating-ip',
    { 'oxide.computer/floating-ip': '198.51.100.5', 'oxide.computer/floating-ip-version': 'v4' },
    {},
  ],
  [
    'pool-version',
    'oxide.computer/floating-ip-pool',
    { 'oxide.computer/floating-ip-pool': 'p', 'oxide.computer/floating-ip-version': 'v4' },
    {},
  ],
  [
    'version-dual',
    'oxide.computer/floating-ip-version',
    { 'oxide.computer/floating-ip-version': 'v4' },
    { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' },
  ],
  [
    'v6pool-dual',
    'oxide.computer/floating-ip-pool',
    { 'oxide.computer/floating-ip-pool': 'default-v6' },
    { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' },
  ],
];

test('invalid annotation values and combinations: Warning naming the annotation, nothing created', async () => {
  const writes = ['floating_ip_create', 'floating_ip_attach', 'floating_ip_delete'];
  const before = writes.map((op) => env.sim.requests.count(op));
  const fipsBefore = env.sim.db.floatingIps.length;
  await Promise.all(
    INVALID.map(([svc, , annotations, spec]) => createService(env, svc, { annotations, spec })),
  );
  for (const [svc, annotation] of INVALID) {
    const warning = await waitFor(`${svc}: warning`, async () =>
      (await events(env, svc)).find(
        (e) => e.type === 'Warning' && e.reason === 'SyncLoadBalancerFailed',
      ),
    );
    assert.ok(warning.message?.includes(annotation), `${svc}: ${warning.message}`);
    assert.equal(fipsNamed(env, fipName(env, svc)).length, 0, svc);
    assert.equal((await getService(env, svc)).status?.loadBalancer?.ingress, undefined, svc);
  }
  assert.deepEqual(
    writes.map((op) => env.sim.requests.count(op)),
    before,
  );
  assert.equal(env.sim.db.floatingIps.length, fipsBefore);

  // Fixing one makes it converge (an edit re-queues an invalid Service at once).
  await env.kube.patch(`/api/v1/namespaces/${env.ns}/services/bad-ip`, 'merge', {
    metadata: { annotations: { 'oxide.computer/floating-ip': '198.51.100.90' } },
  });
  const fixed = await settled(env, 'bad-ip', [fipName(env, 'bad-ip')]);
  assert.equal(fixed.fips[0]?.ip, '198.51.100.90');

  await Promise.all(INVALID.map(([svc]) => deleteService(env, svc)));
  for (const [svc] of INVALID) await waitFor(`${svc} gone`, () => serviceGone(env, svc));
  assert.equal(env.sim.db.floatingIps.length, fipsBefore);
});

test('dual-stack Service: one FIP per family, both in status, v6 on the v6 Node', async () => {
  await createService(env, 'dual', {
    spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] },
  });
  const v4 = fipName(env, 'dual');
  const v6 = fipName(env, 'dual', '-IPv6');
  const { svc, fips } = await settled(env, 'dual', [v4, v6]);
  assert.equal(svc.spec?.clusterIPs?.length, 2, 'the apiserver gave both families');
  assert.match(fips[0]?.ip ?? '', /^198\.51\.100\./);
  assert.match(fips[1]?.ip ?? '', /^2001:db8:100::/);
  assert.equal(
    fips[1]?.description,
    `${DESCRIPTION} service-uid=${svc.metadata?.uid} service=${CLUSTER}/lc/dual cluster-id=cluster-a`,
  );
  assert.equal(instanceName(env, fips[1]?.instanceId), 'nb');
  const ingress = svc.status?.loadBalancer?.ingress ?? [];
  assert.deepEqual(ingress.slice(0, 2), [
    { ip: fips[0]?.ip, ipMode: 'Proxy' },
    { ip: fips[1]?.ip, ipMode: 'Proxy' },
  ]);
  await deleted('dual', [v4, v6]);
});

test('firewall annotation: rules for the Service ports, foreign rules untouched, removed on delete', async () => {
  const vpcId = env.sim.db.vpcs[0]?.id ?? '';
  const strip = <T extends { name: string }>(rules: T[]) =>
    rules
      .map((r) => ({ ...r, id: '', timeCreated: 0, timeModified: 0 }))
      .sort((a, b) => a.name.localeCompare(b.name));
  const foreign = strip(structuredClone(env.sim.db.firewallRules(vpcId)));
  assert.ok(foreign.length > 0);
  await createService(env, 'fw', {
    annotations: { 'oxide.computer/firewall': 'true' },
    spec: {
      ports: [
        { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
        { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
      ],
      loadBalancerSourceRanges: ['203.0.113.0/24'],
    },
  });
  const name = fipName(env, 'fw');
  const { fips } = await settled(env, 'fw', [name]);
  const base = firewallRuleBase(name);
  const target = env.sim.db.nics.find((n) => n.instanceId === fips[0]?.instanceId && n.primary);
  assert.ok(target);
  const rules = await waitFor('rules', () => {
    const all = env.sim.db.firewallRules(vpcId);
    const tcp = all.find((r) => r.name === `${base}-tcp`);
    const udp = all.find((r) => r.name === `${base}-udp`);
    return tcp && udp ? { all, tcp, udp } : undefined;
  });
  assert.deepEqual(rules.tcp.filters.ports, ['443']);
  assert.deepEqual(rules.udp.filters.ports, ['53']);
  assert.equal(rules.tcp.direction, 'inbound');
  assert.equal(rules.tcp.action, 'allow');
  assert.deepEqual(rules.tcp.filters.hosts, [{ type: 'ip_net', value: '203.0.113.0/24' }]);
  const stack = target.ipStack;
  // Every private address of the target's primary NIC (its v6 one too on a dual-stack NIC).
  const privateIps =
    stack.type === 'dual_stack' ? [stack.value.v4.ip, stack.value.v6.ip] : [stack.value.ip];
  assert.deepEqual(
    rules.tcp.targets,
    privateIps.map((value) => ({ type: 'ip', value })),
  );
  assert.deepEqual(rules.udp.targets, rules.tcp.targets);
  assert.deepEqual(strip(rules.all.filter((r) => !r.name.startsWith(base))), foreign);

  await deleted('fw', [name]);
  assert.deepEqual(strip(env.sim.db.firewallRules(vpcId)), foreign);
});

test('Oxide errors mid-way (attach fails after create): converges on retry, exactly one FIP', async () => {
  const fipsBefore = env.sim.db.floatingIps.length;
  const creates = env.sim.requests.count('floating_ip_create');
  const attaches = env.sim.requests.count('floating_ip_attach');
  env.sim.faults.add({ operation: 'floating_ip_attach', status: 503, times: 3 });
  await createService(env, 'flaky');
  const name = fipName(env, 'flaky');
  const { svc } = await settled(env, 'flaky', [name]);
  env.sim.faults.clear();
  assert.equal(fipsNamed(env, name).length, 1);
  assert.equal(env.sim.db.floatingIps.length, fipsBefore + 1, 'no leaked FIPs');
  assert.equal(env.sim.requests.count('floating_ip_create'), creates + 1, 'created once');
  assert.equal(env.sim.requests.count('floating_ip_attach'), attaches + 4, '3 failures, 1 success');
  assert.ok(hasFinalizer(svc));
  const warnings = (await events(env, 'flaky')).filter((e) => e.type === 'Warning');
  assert.ok(warnings.some((e) => e.reason === 'SyncLoadBalancerFailed'));
  await deleted('flaky', [name]);
  assert.equal(env.sim.db.floatingIps.length, fipsBefore);
});
