// Issue 20, items 6 and 8, end to end: hostile and careless Service input against a real
// kube-apiserver, the Oxide simulator, the real provider and the service controller. What the
// tenant sees is the Service's Events; each check also reads what sim.db holds.
//   - an address with a zone id is invalid input (a Warning naming the annotation), retried at
//     the periodic resync only, never as a transient error with backoff;
//   - a 100 KB annotation value is echoed cut, in an Event of at most 1024 characters;
//   - another Service's address in another spelling (IPv4-mapped IPv6) is refused;
//   - unknown oxide.computer/ keys: one Warning per distinct set, not one per resync;
//   - a floating IP carrying a copied owner record, attached to a VM that is not a Node, is
//     never detached or deleted (ensure, resync, delete): a Warning names it and the instance.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1Event } from '@kubernetes/client-node';
import { waitFor } from './harness/context.ts';
import {
  createService,
  deleteService,
  events,
  fip,
  fipName,
  fipsNamed,
  serviceGone,
  servicePath,
  settled,
  startEnv,
} from './harness/services-oxide-env.ts';
import type { Env } from './harness/services-oxide-env.ts';

let env: Env;

before(async () => {
  env = await startEnv({
    namespace: 'in',
    instances: [
      { name: 'na', nics: [{ primary: true, v4: '172.30.0.11' }] },
      { name: 'nb', nics: [{ primary: true, v4: '172.30.0.12' }] },
    ],
  });
  // A VM of the project that is no Node of the cluster.
  env.sim.db.addInstance({ name: 'vm', nics: [{ primary: true, v4: '172.30.0.40' }] });
});

after(async () => {
  await env?.stop();
});

const warnings = async (service: string, reason: string): Promise<CoreV1Event[]> =>
  (await events(env, service)).filter((e) => e.type === 'Warning' && e.reason === reason);

/** Waits until `n` more periodic resyncs have run and every change since has been acted on. */
async function resyncs(n: number): Promise<void> {
  const target = env.services.resyncs + n;
  await waitFor(`${n} resyncs`, () => env.services.resyncs >= target && env.services.idle());
}

test('zone id and a 100 KB value: invalid input, one bounded Warning each, retried at resyncs only', async () => {
  const fipsBefore = env.sim.db.floatingIps.length;
  await createService(env, 'zone', {
    annotations: { 'oxide.computer/floating-ip': 'fe80::1%eth0' },
  });
  await createService(env, 'huge', {
    annotations: { 'oxide.computer/floating-ip-pool': 'p'.repeat(100_000) },
  });
  const zone = await waitFor(
    'zone: warning',
    async () => (await warnings('zone', 'SyncLoadBalancerFailed'))[0],
  );
  assert.match(
    zone.message ?? '',
    /annotation oxide\.computer\/floating-ip: invalid value "fe80::1%eth0": .*without a zone id/,
  );
  const huge = await waitFor(
    'huge: warning',
    async () => (await warnings('huge', 'SyncLoadBalancerFailed'))[0],
  );
  assert.ok((huge.message ?? '').length <= 1024, `${huge.message?.length} characters`);
  assert.match(
    huge.message ?? '',
    /oxide\.computer\/floating-ip-pool: invalid value "p+"… \(100000 characters\)/,
  );

  // Invalid input waits for an edit or the periodic resync (1.5 s here); a transient error would
  // be retried with backoff from 200 ms, several times per resync.
  const firstSweep = env.services.resyncs;
  await resyncs(3);
  const sweeps = env.services.resyncs - firstSweep;
  const count = (await warnings('zone', 'SyncLoadBalancerFailed'))[0]?.count ?? 0;
  assert.ok(count <= sweeps + 1, `${count} failures in ${sweeps} resyncs`);
  assert.equal(env.sim.db.floatingIps.length, fipsBefore, 'nothing created');

  for (const svc of ['zone', 'huge']) await deleteService(env, svc);
  for (const svc of ['zone', 'huge']) await waitFor(`${svc} gone`, () => serviceGone(env, svc));
});

test("another Service's address in its IPv4-mapped spelling is refused", async () => {
  await createService(env, 'owner');
  const { fips } = await settled(env, 'owner', [fipName(env, 'owner')]);
  const taken = fips[0];
  assert.ok(taken);
  await createService(env, 'thief', {
    annotations: { 'oxide.computer/floating-ip': `::ffff:${taken.ip}` },
  });
  const refused = await waitFor(
    'thief: warning',
    async () => (await warnings('thief', 'SyncLoadBalancerFailed'))[0],
  );
  assert.match(refused.message ?? '', /is held by a floating IP .* that this Service does not own/);
  assert.equal(fipsNamed(env, fipName(env, 'thief')).length, 0);
  assert.deepEqual(fip(env, taken.name), taken, "the owner's FIP is untouched");
  for (const svc of ['thief', 'owner']) await deleteService(env, svc);
  for (const svc of ['thief', 'owner']) await waitFor(`${svc} gone`, () => serviceGone(env, svc));
});

test('unknown oxide.computer/ keys: a Warning once per distinct set, none per resync', async () => {
  await createService(env, 'typo', { annotations: { 'oxide.computer/floating-ipp': '10.0.0.1' } });
  await settled(env, 'typo', [fipName(env, 'typo')]);
  const first = await waitFor(
    'typo: warning',
    async () => (await warnings('typo', 'UnknownAnnotation'))[0],
  );
  assert.match(first.message ?? '', /"oxide\.computer\/floating-ipp" ignored/);
  await resyncs(3);
  assert.deepEqual(
    (await warnings('typo', 'UnknownAnnotation')).map((e) => e.count),
    [1],
    'not repeated at resyncs',
  );

  // Another typo: another set, another Warning; fixing both: nothing more.
  await env.kube.patch(servicePath(env, 'typo'), 'merge', {
    metadata: { annotations: { 'oxide.computer/firewal': 'true' } },
  });
  await waitFor(
    'second warning',
    async () => (await warnings('typo', 'UnknownAnnotation')).length === 2,
  );
  await env.kube.patch(servicePath(env, 'typo'), 'merge', {
    metadata: {
      annotations: { 'oxide.computer/floating-ipp': null, 'oxide.computer/firewal': null },
    },
  });
  await resyncs(2);
  assert.deepEqual(
    (await warnings('typo', 'UnknownAnnotation')).map((e) => e.count),
    [1, 1],
  );
  await deleteService(env, 'typo');
  await waitFor('typo gone', () => serviceGone(env, 'typo'));
});

test('a copied owner record on a FIP of a non-Node VM: never detached or deleted, a Warning names it', async () => {
  await createService(env, 'web');
  const { fips } = await settled(env, 'web', [fipName(env, 'web')]);
  const own = fips[0];
  assert.ok(own);
  const vm = env.sim.db.findInstance('vm');
  const forged = env.sim.db.createFloatingIp({
    name: 'forged',
    description: own.description,
    instance: 'vm',
  });
  const writesToForged = () =>
    env.sim.requests.entries.filter(
      (e) => e.method !== 'GET' && (e.path.includes(forged.id) || e.path.includes('forged')),
    );

  // An edit makes the controller ensure again, the path that drops FIPs a Service no longer uses.
  await env.kube.patch(servicePath(env, 'web'), 'merge', {
    metadata: { annotations: { 'oxide.computer/firewall': 'false' } },
  });
  const warning = await waitFor(
    'web: warning',
    async () => (await warnings('web', 'FloatingIPOutsideCluster'))[0],
  );
  assert.match(
    warning.message ?? '',
    new RegExp(`floating IP forged \\(${forged.ip}\\) .*instance ${vm.id}, which is not a Node`),
  );
  assert.doesNotMatch(warning.message ?? '', new RegExp(env.sim.token));
  await resyncs(3);
  assert.equal(fip(env, 'forged')?.instanceId, vm.id, 'still on the VM');
  assert.deepEqual(
    (await warnings('web', 'FloatingIPOutsideCluster')).map((e) => e.count),
    [1],
  );

  // Deleting the Service deletes its own FIP and leaves the forged one attached.
  await deleteService(env, 'web');
  await waitFor('web gone', () => serviceGone(env, 'web'));
  assert.equal(fipsNamed(env, own.name).length, 0);
  assert.equal(fip(env, 'forged')?.instanceId, vm.id);
  assert.deepEqual(writesToForged(), []);
});
