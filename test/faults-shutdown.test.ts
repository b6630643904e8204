// Shutdown mid-reconcile: with an Oxide call that never answers, stopping the controllers (what
// SIGTERM or a lost Lease does) must end the reconcile at once, aborting its request in flight,
// instead of waiting out the Oxide client's per-attempt timeout and retries. Every controller
// runs with the real provider against a dedicated kube-apiserver and the Oxide simulator.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { oxideMetrics } from '../src/oxide/metrics.ts';
import { waitFor } from './harness/context.ts';
import { World } from './harness/faults-world.ts';

/** Far longer than a stop may take: only an aborted request ends before it. */
const OXIDE_TIMEOUT_MS = 60_000;
/** Generous for a loaded 2-core machine; the stop takes milliseconds when the signal reaches the call. */
const STOP_WITHIN_MS = 5_000;

const worlds: World[] = [];

after(async () => {
  // The simulator first: it closes the requests held by `timeout` faults, so controllers still
  // waiting on one (a failing run) end too.
  for (const w of worlds) {
    await w.sim.stop();
    await w.stop();
  }
});

async function startWorld(): Promise<World> {
  const w = await World.start({ timeoutMs: OXIDE_TIMEOUT_MS });
  worlds.push(w);
  return w;
}

/** Attempts of `operation` that ended without an answer (aborted or timed out) so far. */
async function unanswered(operation: string): Promise<number> {
  const { values } = await oxideMetrics.requests.get();
  return (
    values.find((v) => v.labels.operation === operation && v.labels.status === '0')?.value ?? 0
  );
}

/** Stops the controllers; the time it took, or undefined when it took longer than `limitMs`. */
async function timedStop(w: World, limitMs: number): Promise<number | undefined> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), limitMs);
  });
  const done = await Promise.race([w.stopControllers().then(() => true), late]);
  clearTimeout(timer);
  return done ? Math.round(performance.now() - started) : undefined;
}

test('stopping the controllers aborts a hanging floating_ip_create at once', async () => {
  const w = await startWorld();
  await w.addNode();
  await w.converge(60_000);
  w.sim.faults.add({ operation: 'floating_ip_create', timeout: true });
  const before = await unanswered('floating_ip_create');
  await w.addService();
  await waitFor('the create is in flight', () => w.sim.requests.count('floating_ip_create') >= 1);

  const ms = await timedStop(w, STOP_WITHIN_MS);
  console.log(`# stop with floating_ip_create hanging: ${ms ?? `> ${STOP_WITHIN_MS}`} ms`);
  assert.ok(ms !== undefined, `run() still waiting ${STOP_WITHIN_MS} ms after the stop`);
  // The request itself ended (aborted), not merely left behind: its attempt was recorded
  // without an answer, long before the client's own timeout.
  assert.equal(await unanswered('floating_ip_create'), before + 1);
  assert.equal(w.sim.requests.count('floating_ip_create'), 1, 'no retry after the stop');
  assert.deepEqual(await w.violations(), []);
});

test('a hanging shared instance_list: the stop ends every wait on it, the list goes on for others', async () => {
  const w = await startWorld();
  w.sim.faults.add({ operation: 'instance_list', timeout: true });
  const before = await unanswered('instance_list');
  // A Node without providerID: the node controller looks it up in the shared instance list
  // (the route controller's pass reads the same list).
  await w.addNode();
  await waitFor('the list is in flight', () => w.sim.requests.count('instance_list') >= 1);

  const ms = await timedStop(w, STOP_WITHIN_MS);
  console.log(`# stop with instance_list hanging: ${ms ?? `> ${STOP_WITHIN_MS}`} ms`);
  assert.ok(ms !== undefined, `run() still waiting ${STOP_WITHIN_MS} ms after the stop`);
  // One caller's stop does not cancel a load others may share: no list was aborted (each is
  // still held; a lookup after the inventory's TTL may have started another).
  assert.equal(await unanswered('instance_list'), before);
});
