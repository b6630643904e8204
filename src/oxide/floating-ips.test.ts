// The shared floating-IP view against the simulator over real HTTP: one list for concurrent
// readers, writes applied even to a list already in flight, invalidation, TTL 0.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { startSimulator } from '../../sim/server.ts';
import type { Simulator } from '../../sim/server.ts';
import { OxideClient } from './client.ts';
import { FloatingIpView, createFloatingIp, deleteFloatingIp } from './floating-ips.ts';

let sim: Simulator;
let client: OxideClient;
const request = (name: string) => ({
  name,
  description: 'view test',
  addressAllocator: {
    type: 'auto' as const,
    poolSelector: { type: 'auto' as const, ipVersion: 'v4' as const },
  },
});
const names = (fips: { name: string }[]) => fips.map((f) => f.name).sort();
const lists = () => sim.requests.count('floating_ip_list');

before(async () => {
  sim = await startSimulator({ seed: { project: 'k8s' }, latencyMs: 0 });
  client = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
});

after(async () => {
  await client?.close();
  await sim?.stop();
});

beforeEach(() => {
  sim.faults.clear();
  sim.requests.reset();
  for (const f of [...sim.db.floatingIps]) sim.db.deleteFloatingIp(f.id);
});

test('concurrent readers share one list; within the TTL nobody lists again', async () => {
  sim.db.createFloatingIp({ name: 'a', ipVersion: 'v4' });
  const view = new FloatingIpView(client, { ttlMs: 60_000 });
  const all = await Promise.all(Array.from({ length: 10 }, () => view.list()));
  const scan = lists();
  assert.ok(scan >= 1 && scan <= 2, `${scan} pages`);
  for (const fips of all) assert.deepEqual(names(fips), ['a']);
  await view.list();
  assert.equal(lists(), scan);
  // A fresh read does not take the cache.
  await view.list({ fresh: true });
  assert.equal(lists(), 2 * scan);
});

test('a write completing while a list is in flight is applied to that list', async () => {
  sim.db.createFloatingIp({ name: 'old', ipVersion: 'v4' });
  const view = new FloatingIpView(client, { ttlMs: 60_000 });
  await view.list();
  const old = sim.db.floatingIps.find((f) => f.name === 'old');
  assert.ok(old);
  // A slow list; a create and a delete finish while it is under way. The simulator reads its
  // state at the end of the delay, so the test then undoes both by hand: the list must still
  // answer with the writes, as it would had it read before them.
  sim.faults.add({ operation: 'floating_ip_list', latencyMs: 150, times: 1 });
  const pending = view.list({ fresh: true });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const made = await createFloatingIp(client, request('new'));
  view.put(made);
  await deleteFloatingIp(client, old.id);
  view.remove(old.id);
  sim.db.deleteFloatingIp(made.id);
  sim.db.floatingIps.push(old);
  assert.deepEqual(names(await pending), ['new']);
  assert.deepEqual(names(view.cached() ?? []), ['new']);
});

test('invalidate: the next read lists, and a list begun before it is not cached', async () => {
  const view = new FloatingIpView(client, { ttlMs: 60_000 });
  await view.list();
  sim.db.createFloatingIp({ name: 'by-hand', ipVersion: 'v4' });
  assert.deepEqual(names(await view.list()), [], 'cached within the TTL');
  view.invalidate();
  assert.equal(view.cached(), undefined);
  assert.deepEqual(names(await view.list()), ['by-hand']);

  sim.faults.add({ operation: 'floating_ip_list', latencyMs: 100, times: 1 });
  const early = view.list({ fresh: true });
  await new Promise((resolve) => setTimeout(resolve, 20));
  view.invalidate();
  await early;
  assert.equal(view.cached(), undefined, 'the overtaken list is not kept');
});

test('TTL 0: every read lists; nothing is cached', async () => {
  const view = new FloatingIpView(client, { ttlMs: 0 });
  await view.list();
  const scan = lists();
  await view.list();
  assert.equal(lists(), 2 * scan);
  assert.equal(view.cached(), undefined);
});
