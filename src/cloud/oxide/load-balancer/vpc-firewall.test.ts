// The read-modify-write-verify loop against the simulator, with another writer racing it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { VpcFirewallRuleUpdate } from '@oxide/api';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { FirewallManager } from './vpc-firewall.ts';
import { mergeRules } from './firewall-rules.ts';

const CLUSTER = { name: 'kubernetes', id: 'cluster-a' };
let sim: Simulator;
let client: OxideClient;
let vpcId: string;

before(async () => {
  sim = await startSimulator({
    seed: { project: 'k8s', instances: [{ name: 'n1' }] },
    latencyMs: 0,
  });
  client = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
  vpcId = sim.db.vpcs[0]!.id;
});

after(async () => {
  await client?.close();
  await sim?.stop();
});

const rule = (name: string, port: string): VpcFirewallRuleUpdate => ({
  name,
  description: 'test',
  action: 'allow',
  direction: 'inbound',
  priority: 1000,
  status: 'enabled',
  targets: [{ type: 'ip', value: '172.30.0.5' }],
  filters: { ports: [port], protocols: [{ type: 'tcp' }], hosts: null },
});

test('merge keeps foreign rules in order and reports no change when already as desired', () => {
  const now = new Date();
  const stored = (r: VpcFirewallRuleUpdate) => ({
    ...r,
    id: r.name,
    vpcId,
    timeCreated: now,
    timeModified: now,
  });
  const current = [
    stored(rule('zeta', '1')),
    stored(rule('k8s-lb-abc-tcp', '80')),
    stored(rule('alpha', '2')),
  ];
  assert.equal(
    mergeRules(current, 'k8s-lb-abc', [rule('k8s-lb-abc-tcp', '80')], CLUSTER),
    undefined,
  );
  const merged = mergeRules(current, 'k8s-lb-abc', [rule('k8s-lb-abc-tcp', '81')], CLUSTER);
  assert.deepEqual(
    merged?.map((r) => r.name),
    ['zeta', 'alpha', 'k8s-lb-abc-tcp'],
  );
  assert.deepEqual(
    mergeRules(current, 'k8s-lb-abc', [], CLUSTER)?.map((r) => r.name),
    ['zeta', 'alpha'],
  );
  // A prefix of another Service's base is not ours.
  assert.equal(
    mergeRules([stored(rule('k8s-lb-abcd-tcp', '1'))], 'k8s-lb-abc', [], CLUSTER),
    undefined,
  );
});

test("another cluster's rule under this Service's rule name is never removed or replaced", () => {
  const now = new Date();
  const theirs = {
    ...rule('k8s-lb-abc-tcp', '80'),
    description: 'Managed by oxide-cloud-controller-manager: Service a/b (x). cluster-id=cluster-b',
    id: 'r1',
    vpcId,
    timeCreated: now,
    timeModified: now,
  };
  // Leftover cleanup (nothing desired) leaves it.
  assert.equal(mergeRules([theirs], 'k8s-lb-abc', [], CLUSTER), undefined);
  // Writing ours under its name is refused rather than replacing it.
  assert.throws(
    () => mergeRules([theirs], 'k8s-lb-abc', [rule('k8s-lb-abc-tcp', '80')], CLUSTER),
    /k8s-lb-abc-tcp belongs to another cluster \(cluster-id=cluster-b\)/,
  );
  // A rule written before identities (no cluster-id) is this cluster's by name, and one naming
  // this cluster's identity too.
  const legacy = {
    ...theirs,
    description: 'Managed by oxide-cloud-controller-manager: Service a/b (x).',
  };
  assert.deepEqual(mergeRules([legacy], 'k8s-lb-abc', [], CLUSTER), []);
  const ours = { ...theirs, description: 'x cluster-id=cluster-a' };
  assert.deepEqual(mergeRules([ours], 'k8s-lb-abc', [], CLUSTER), []);
});

test('a writer that replaces the rules right after our write is detected and merged over', async () => {
  const fw = new FirewallManager(client, { cluster: CLUSTER, ttlMs: 60_000 });
  let raced = false;
  // Another tool writes its own rule set (without ours) right after our first PUT lands.
  const originalSet = sim.db.rules.set.bind(sim.db.rules);
  sim.db.rules.set = (key, value) => {
    originalSet(key, value);
    if (!raced && value.some((r) => r.name === 'k8s-lb-svc1-tcp')) {
      raced = true;
      originalSet(key, [
        ...value.filter((r) => r.name !== 'k8s-lb-svc1-tcp'),
        { ...value[0]!, name: 'hand-made' },
      ]);
    }
    return sim.db.rules;
  };
  try {
    sim.requests.reset();
    assert.equal(await fw.reconcile(vpcId, 'k8s-lb-svc1', [rule('k8s-lb-svc1-tcp', '80')]), true);
  } finally {
    sim.db.rules.set = originalSet;
  }
  assert.ok(raced);
  const names = sim.db.firewallRules(vpcId).map((r) => r.name);
  assert.ok(names.includes('k8s-lb-svc1-tcp'), 'ours re-applied');
  assert.ok(names.includes('hand-made'), 'theirs kept');
  assert.equal(sim.requests.count('vpc_firewall_rules_update'), 2);
  // Steady state from the snapshot: no request.
  sim.requests.reset();
  assert.equal(await fw.reconcile(vpcId, 'k8s-lb-svc1', [rule('k8s-lb-svc1-tcp', '80')]), false);
  assert.equal(sim.requests.count(), 0);
});

test('a removal in a VPC another writer uses is read again, and repeated when an old copy brought the rules back', async () => {
  const mine = new FirewallManager(client, { cluster: CLUSTER, ttlMs: 0, settleMs: 50 });
  const other = new FirewallManager(client, {
    cluster: { name: 'kubernetes', id: 'cluster-b' },
    ttlMs: 0,
  });
  await mine.reconcile(vpcId, 'k8s-lb-gone', [rule('k8s-lb-gone-tcp', '80')]);
  // Alone in the VPC so far: a removal is not read again.
  sim.requests.reset();
  await mine.reconcile(vpcId, 'k8s-lb-gone', []);
  assert.equal(sim.requests.count('vpc_firewall_rules_view'), 2, 'read and verify only');
  await mine.reconcile(vpcId, 'k8s-lb-gone', [rule('k8s-lb-gone-tcp', '80')]);
  // The other cluster writes its rule: from now on the VPC is shared.
  await other.reconcile(vpcId, 'k8s-lb-theirs', [
    { ...rule('k8s-lb-theirs-tcp', '81'), description: 'x cluster-id=cluster-b' },
  ]);
  // Its next write, read before our removal, lands just after it: an old copy with our rule.
  const stale = structuredClone(sim.db.firewallRules(vpcId));
  const originalSet = sim.db.rules.set.bind(sim.db.rules);
  let resent = false;
  sim.db.rules.set = (key, value) => {
    originalSet(key, value);
    if (!resent && !value.some((r) => r.name === 'k8s-lb-gone-tcp')) {
      resent = true;
      setTimeout(() => originalSet(key, stale), 10);
    }
    return sim.db.rules;
  };
  try {
    sim.requests.reset();
    assert.equal(await mine.reconcile(vpcId, 'k8s-lb-gone', []), true);
  } finally {
    sim.db.rules.set = originalSet;
  }
  assert.ok(resent);
  const names = sim.db.firewallRules(vpcId).map((r) => r.name);
  assert.ok(!names.includes('k8s-lb-gone-tcp'), 'removed again after the old copy landed');
  assert.ok(names.includes('k8s-lb-theirs-tcp'), "the other's rule kept");
  assert.equal(sim.requests.count('vpc_firewall_rules_update'), 2);
});
