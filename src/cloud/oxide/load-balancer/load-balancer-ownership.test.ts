// Floating-IP ownership against the simulator over HTTP, as a hostile tenant would probe it: names
// by annotation (name and UUID), addresses, colliding generated names, Go CCM FIPs adopted once,
// restarts (a new provider) and two providers (two CCM processes) racing. After each attack:
// nothing was written for the attacker and the victim's FIP is where it was.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import { startSimulator } from '../../../../sim/server.ts';
import type { Simulator } from '../../../../sim/server.ts';
import { OxideClient } from '../../../oxide/client.ts';
import { InvalidServiceConfigError } from '../../provider.ts';
import { OxideLoadBalancer } from './load-balancer.ts';
import { FloatingIpConflictError, roleNames } from './owner.ts';
import { formatProviderID } from '../provider-id.ts';

const CLUSTER = 'kubernetes';
const GO_DESCRIPTION = 'Managed by oxide-cloud-controller-manager.';
let sim: Simulator;
let client: OxideClient;

function node(name: string): V1Node {
  const inst = sim.db.findInstance(name);
  return {
    metadata: { name },
    spec: { providerID: formatProviderID(inst.id) },
    status: { addresses: [{ type: 'InternalIP', address: `172.30.0.${name.slice(1)}` }] },
  };
}

function service(
  namespace: string,
  name: string,
  annotations: Record<string, string> = {},
  spec: Partial<NonNullable<V1Service['spec']>> = {},
): V1Service {
  return {
    metadata: { name, namespace, uid: randomUUID(), annotations },
    spec: {
      type: 'LoadBalancer',
      ports: [{ port: 80, protocol: 'TCP' }],
      ipFamilies: ['IPv4'],
      ...spec,
    },
  };
}

const provider = () =>
  new OxideLoadBalancer({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    floatingIpTtlMs: 60_000,
  });
const named = (name: string) => sim.db.floatingIps.find((f) => f.name === name);
const snapshot = () => structuredClone(sim.db.floatingIps);
const writes = () =>
  ['create', 'update', 'attach', 'detach', 'delete'].reduce(
    (n, op) => n + sim.requests.count(`floating_ip_${op}`),
    0,
  );

/** Ensures, and returns the FIP its status points at. */
async function ensure(lb: OxideLoadBalancer, svc: V1Service, on = 'n1'): Promise<FloatingIp> {
  const status = await lb.ensureLoadBalancer(CLUSTER, svc, [node(on)]);
  const fip = sim.db.floatingIps.find((f) => f.ip === status.ingress[0]?.ip);
  assert.ok(fip, `status ${JSON.stringify(status)} names a FIP`);
  return structuredClone(fip);
}

/** The attack must fail with a conflict and write nothing to Oxide. */
async function refused(attempt: Promise<unknown>, message: RegExp): Promise<void> {
  const before = snapshot();
  const writesBefore = writes();
  await assert.rejects(attempt, (err: unknown) => {
    assert.ok(err instanceof FloatingIpConflictError, String(err));
    assert.match(err.message, message);
    return true;
  });
  assert.equal(writes(), writesBefore, 'no create, update, attach, detach or delete');
  assert.deepEqual(sim.db.floatingIps, before);
}

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: ['n1', 'n2', 'n3'].map((name, i) => ({
        name,
        nics: [{ primary: true, v4: `172.30.0.${i + 1}` }],
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

beforeEach(() => {
  sim.requests.reset();
});

describe('oxide.computer/floating-ip-name cannot take what is not marked for the Service', () => {
  test("another Service's FIP, by name and by UUID: refused; deleting the attacker leaves it", async () => {
    const lb = provider();
    const victim = service('pa', 'svc-0');
    const owned = await ensure(lb, victim, 'n2');
    assert.equal(owned.name, 'kubernetes-pa-svc-0');
    for (const value of [owned.name, owned.id]) {
      const attacker = service('p7', 'x', { 'oxide.computer/floating-ip-name': value });
      const message = `floating IP "${value}" (annotation oxide.computer/floating-ip-name) is not available to this Service`;
      await refused(
        lb.ensureLoadBalancer(CLUSTER, attacker, [node('n1')]),
        new RegExp(message.replace(/[()/]/g, '\\$&')),
      );
      // A restarted CCM (fresh view) refuses it too.
      await refused(
        provider().ensureLoadBalancer(CLUSTER, attacker, [node('n1')]),
        /not available/,
      );
      const detaches = sim.requests.count('floating_ip_detach');
      await lb.ensureLoadBalancerDeleted(CLUSTER, attacker);
      assert.equal(sim.requests.count('floating_ip_detach'), detaches);
      assert.deepEqual(named('kubernetes-pa-svc-0'), {
        ...owned,
        timeModified: owned.timeModified,
      });
    }
    await lb.ensureLoadBalancerDeleted(CLUSTER, victim);
  });

  test('the message is the same whether the FIP is missing, managed or unmarked', async () => {
    const lb = provider();
    sim.db.createFloatingIp({ name: 'unmarked', description: 'team db', ipVersion: 'v4' });
    sim.db.createFloatingIp({ name: 'go-made', description: GO_DESCRIPTION, ipVersion: 'v4' });
    const messages: string[] = [];
    for (const value of ['unmarked', 'go-made', 'no-such-fip']) {
      const svc = service('p7', 'probe', { 'oxide.computer/floating-ip-name': value });
      const err = await lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]).catch((e: unknown) => e);
      assert.ok(err instanceof Error);
      messages.push(err.message.replace(value, '<name>'));
    }
    assert.equal(new Set(messages).size, 1, messages.join('\n'));
    assert.equal(named('unmarked')?.instanceId, null);
  });

  test('a FIP marked for the Service works; marked for another or twice is refused', async () => {
    const lb = provider();
    sim.db.createFloatingIp({
      name: 'shop-ip',
      description: 'shop front k8s-service=kubernetes/shop/web',
      ipVersion: 'v4',
    });
    const web = service('shop', 'web', { 'oxide.computer/floating-ip-name': 'shop-ip' });
    assert.equal((await ensure(lb, web, 'n3')).name, 'shop-ip');
    assert.equal(
      sim.db.floatingIps.find((f) => f.name === 'shop-ip')?.description,
      'shop front k8s-service=kubernetes/shop/web',
      'description left alone',
    );
    const other = service('shop', 'api', { 'oxide.computer/floating-ip-name': 'shop-ip' });
    await refused(lb.ensureLoadBalancer(CLUSTER, other, [node('n1')]), /not available/);
    await lb.ensureLoadBalancerDeleted(CLUSTER, other);
    assert.ok(named('shop-ip')?.instanceId, 'still attached for web');
    await lb.ensureLoadBalancerDeleted(CLUSTER, web);
    assert.equal(named('shop-ip')?.instanceId, null, 'detached with its Service');
    assert.ok(named('shop-ip'), 'never deleted');

    sim.db.createFloatingIp({
      name: 'double',
      description: 'k8s-service=kubernetes/shop/web k8s-service=kubernetes/evil/web',
      ipVersion: 'v4',
    });
    const twice = service('shop', 'web', { 'oxide.computer/floating-ip-name': 'double' });
    await refused(lb.ensureLoadBalancer(CLUSTER, twice, [node('n1')]), /not available/);
  });

  test("a live Service switching its annotation to another's FIP: refused, its own FIP kept", async () => {
    const lb = provider();
    const victimSvc = service('pa', 'v2');
    const victim = await ensure(lb, victimSvc, 'n2');
    const svc = service('p7', 'switch');
    const own = await ensure(lb, svc);
    svc.metadata!.annotations = { 'oxide.computer/floating-ip-name': victim.name };
    await refused(lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]), /not available/);
    assert.equal(named(own.name)?.id, own.id, 'not released as stale before the refusal');
    await lb.ensureLoadBalancerDeleted(CLUSTER, svc);
    assert.equal(named(own.name), undefined, 'its own FIP goes with it');
    assert.equal(named(victim.name)?.instanceId, victim.instanceId);
    await lb.ensureLoadBalancerDeleted(CLUSTER, victimSvc);
  });

  test('--oxide-lb-named-floating-ips=none refuses the annotation before any call', async () => {
    const lb = new OxideLoadBalancer({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client,
      namedFloatingIps: 'none',
    });
    const svc = service('shop', 'web', { 'oxide.computer/floating-ip-name': 'shop-ip' });
    sim.requests.reset();
    await assert.rejects(
      lb.ensureLoadBalancer(CLUSTER, svc, [node('n1')]),
      (err: unknown) =>
        err instanceof InvalidServiceConfigError &&
        /--oxide-lb-named-floating-ips=none/.test(err.message),
    );
    assert.deepEqual(sim.requests.byOperation(), {});
  });
});

describe('addresses: oxide.computer/floating-ip and spec.loadBalancerIP', () => {
  test("another Service's address is refused before anything is written, even its own FIP stays", async () => {
    const lb = provider();
    const victim = await ensure(lb, service('pa', 'addr-victim'), 'n2');
    const byAnnotation = service('p7', 'grab', { 'oxide.computer/floating-ip': victim.ip });
    await refused(
      lb.ensureLoadBalancer(CLUSTER, byAnnotation, [node('n1')]),
      new RegExp(
        `address ${victim.ip.replace(/\./g, '\\.')} .* is held by a floating IP in project k8s that this Service does not own`,
      ),
    );
    const bySpec = service('p7', 'grab2', {}, { loadBalancerIP: victim.ip });
    await refused(lb.ensureLoadBalancer(CLUSTER, bySpec, [node('n1')]), /does not own/);

    // A Service with an address of its own asks for the victim's: its own FIP is not released.
    const mover = service('p7', 'mover');
    const own = await ensure(lb, mover);
    mover.metadata!.annotations = { 'oxide.computer/floating-ip': victim.ip };
    await refused(lb.ensureLoadBalancer(CLUSTER, mover, [node('n1')]), /does not own/);
    assert.equal(named(own.name)?.id, own.id);

    // Made within the view's TTL (the view does not show it yet): Oxide refuses the create, the
    // fresh list shows the holder, and the refusal is the same.
    const late = sim.db.createFloatingIp({
      name: 'late-holder',
      description: 'x',
      ipVersion: 'v4',
    });
    const grab3 = service('p7', 'grab3', { 'oxide.computer/floating-ip': late.ip });
    await assert.rejects(
      lb.ensureLoadBalancer(CLUSTER, grab3, [node('n1')]),
      FloatingIpConflictError,
    );
    assert.equal(named('kubernetes-p7-grab3'), undefined);
    assert.equal(named('late-holder')?.instanceId, null);
  });
});

describe('generated names', () => {
  test('p6/a-b and p6-a/b: the second gets the alternative name; restarts and deletes keep both apart', async () => {
    const first = service('p6', 'a-b');
    const second = service('p6-a', 'b');
    const a = await ensure(provider(), first, 'n1');
    // A restart between the two claimants: a new provider, nothing in memory.
    const b = await ensure(provider(), second, 'n2');
    assert.equal(a.name, 'kubernetes-p6-a-b');
    assert.equal(
      b.name,
      roleNames('kubernetes-p6-a-b', 'primary', second.metadata!.uid!).alternative,
    );
    assert.match(b.name, /^kubernetes-p6-a-b-H[0-9a-f]{8}$/);
    assert.notEqual(a.ip, b.ip);

    // Another restart: both Services find their own, nothing is written.
    const restarted = provider();
    sim.requests.reset();
    assert.equal((await ensure(restarted, second, 'n2')).id, b.id);
    assert.equal((await ensure(restarted, first, 'n1')).id, a.id);
    assert.equal(writes(), 0);

    // Deleting the first leaves the second's; the second keeps its (stable) name afterwards.
    await restarted.ensureLoadBalancerDeleted(CLUSTER, first);
    assert.equal(named(a.name), undefined);
    assert.equal(named(b.name)?.instanceId, b.instanceId);
    assert.equal((await ensure(provider(), second, 'n2')).id, b.id);
    await provider().ensureLoadBalancerDeleted(CLUSTER, second);
    assert.equal(named(b.name), undefined);
  });

  test('names that differ only after the 63rd character get distinct FIPs', async () => {
    const lb = provider();
    const long = 'x'.repeat(50);
    const one = service('team', `${long}-one`);
    const two = service('team', `${long}-two`);
    const [a, b] = [await ensure(lb, one), await ensure(lb, two)];
    assert.equal(a.name, `kubernetes-team-${long}`.slice(0, 63));
    assert.notEqual(a.id, b.id);
    assert.ok(b.name.length <= 63);
    await lb.ensureLoadBalancerDeleted(CLUSTER, two);
    assert.equal(named(a.name)?.id, a.id, "deleting one never deletes the other's");
    await lb.ensureLoadBalancerDeleted(CLUSTER, one);
  });

  test('two providers (two CCM processes) race two colliding Services: one FIP each, never shared', async () => {
    for (let round = 0; round < 5; round++) {
      const x = service('r', `x-${round}`);
      const y = service(`r-x`, `${round}`);
      const [a, b] = await Promise.all([ensure(provider(), x, 'n1'), ensure(provider(), y, 'n2')]);
      assert.notEqual(a.id, b.id);
      assert.deepEqual(
        [a.name, b.name].sort(),
        [
          `kubernetes-r-x-${round}`,
          roleNames(
            `kubernetes-r-x-${round}`,
            'primary',
            (a.name === `kubernetes-r-x-${round}` ? y : x).metadata!.uid!,
          ).alternative,
        ].sort(),
      );
      await provider().ensureLoadBalancerDeleted(CLUSTER, x);
      await provider().ensureLoadBalancerDeleted(CLUSTER, y);
      assert.equal(
        sim.db.floatingIps.filter((f) => f.name.startsWith(`kubernetes-r-x-${round}`)).length,
        0,
      );
    }
  });

  test("a user's FIP holding the generated name is left alone: the Service takes the alternative", async () => {
    const users = sim.db.createFloatingIp({
      name: 'kubernetes-apps-db',
      description: 'VM db',
      ipVersion: 'v4',
    });
    const svc = service('apps', 'db');
    const mine = await ensure(provider(), svc);
    assert.notEqual(mine.id, users.id);
    await provider().ensureLoadBalancerDeleted(CLUSTER, svc);
    assert.deepEqual(named('kubernetes-apps-db'), users);
  });
});

describe('Go CCM floating IPs are adopted exactly once', () => {
  test('two colliding Services reconciled at once by one CCM: one adopts, the other gets its own', async () => {
    const legacy = sim.db.createFloatingIp({
      name: 'kubernetes-g-a-b',
      description: GO_DESCRIPTION,
      ipVersion: 'v4',
    });
    const x = service('g', 'a-b');
    const y = service('g-a', 'b');
    const lb = provider();
    const [a, b] = await Promise.all([ensure(lb, x, 'n1'), ensure(lb, y, 'n2')]);
    assert.notEqual(a.id, b.id);
    const adopter = a.id === legacy.id ? x : y;
    assert.ok([a.id, b.id].includes(legacy.id), 'the Go FIP is used');
    assert.match(
      named('kubernetes-g-a-b')?.description ?? '',
      new RegExp(`service-uid=${adopter.metadata!.uid}`),
    );
    // The loser deleting itself never deletes the adopted FIP; a restarted CCM agrees.
    const loser = adopter === x ? y : x;
    await provider().ensureLoadBalancerDeleted(CLUSTER, loser);
    assert.equal(named('kubernetes-g-a-b')?.id, legacy.id);
    assert.equal((await ensure(provider(), adopter)).id, legacy.id);
    await provider().ensureLoadBalancerDeleted(CLUSTER, adopter);
    assert.equal(named('kubernetes-g-a-b'), undefined);
  });

  test('deleting a Service claims its Go FIP first: one claimed by a colliding Service survives', async () => {
    const legacy = sim.db.createFloatingIp({
      name: 'kubernetes-h-a-b',
      description: GO_DESCRIPTION,
      ipVersion: 'v4',
    });
    const keeper = service('h', 'a-b');
    const leaver = service('h-a', 'b');
    assert.equal((await ensure(provider(), keeper)).id, legacy.id);
    await provider().ensureLoadBalancerDeleted(CLUSTER, leaver);
    assert.equal(named('kubernetes-h-a-b')?.id, legacy.id);
    await provider().ensureLoadBalancerDeleted(CLUSTER, keeper);
  });

  test('a Service created after the Go FIP never claims it, even reconciled first or deleted', async () => {
    const legacy = sim.db.createFloatingIp({
      name: 'kubernetes-t-a-b',
      description: GO_DESCRIPTION,
      ipVersion: 'v4',
    });
    const made = new Date(legacy.timeCreated).getTime();
    const owner = service('t', 'a-b');
    owner.metadata!.creationTimestamp = new Date(made - 3_600_000);
    const late = service('t-a', 'b');
    late.metadata!.creationTimestamp = new Date(made + 3_600_000);
    const lb = provider();
    const mine = await ensure(lb, late, 'n2');
    assert.notEqual(mine.id, legacy.id, 'the late Service gets its own');
    await lb.ensureLoadBalancerDeleted(CLUSTER, late);
    assert.deepEqual(named('kubernetes-t-a-b'), legacy, 'neither claimed nor deleted');
    assert.equal((await ensure(lb, owner)).id, legacy.id, 'the older Service adopts it');
    await lb.ensureLoadBalancerDeleted(CLUSTER, owner);
  });

  test('an orphan of the same cluster/namespace/name (deletion missed) is taken over', async () => {
    const gone = service('o', 'web');
    const old = await ensure(provider(), gone);
    // The Service was deleted without the CCM (finalizer removed by hand) and created again.
    const again = service('o', 'web');
    assert.equal((await ensure(provider(), again)).id, old.id);
    assert.match(
      named(old.name)?.description ?? '',
      new RegExp(`service-uid=${again.metadata!.uid}`),
    );
    await provider().ensureLoadBalancerDeleted(CLUSTER, again);
    assert.equal(named(old.name), undefined);
  });
});

test('lastNodes is bounded: Nodes no FIP points at are dropped', async () => {
  const lb = provider();
  const svc = service('b', 'web');
  await ensure(lb, svc, 'n1');
  const many = Array.from({ length: 300 }, (_, i) => ({
    metadata: { name: `ghost-${i}` },
    spec: { providerID: formatProviderID(randomUUID()) },
  }));
  await lb.updateLoadBalancer(CLUSTER, svc, [node('n1'), ...many]);
  await lb.updateLoadBalancer(CLUSTER, svc, [node('n1')]);
  // The status step's memory of Nodes (private: status.ts), in the default project's scope.
  const { ingress } = (
    lb as unknown as {
      scopes: { forService(p: undefined): { ingress: { lastNodes: Map<string, V1Node> } } };
    }
  ).scopes.forService(undefined);
  const size = ingress.lastNodes.size;
  assert.ok(size <= 1 + 64, `lastNodes has ${size} entries`);
  await lb.ensureLoadBalancerDeleted(CLUSTER, svc);
});
