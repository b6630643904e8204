// Two (or three) electors on the real test apiserver, with short durations: lease 3 s, renew
// deadline 2 s, retry 0.5 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { testKube, uniqueName } from '../../test/harness/kube.ts';
import { silentLogger } from '../log.ts';
import { Registry } from 'prom-client';
import { registerKubeMetrics } from './metrics.ts';
import { LeaderElector, LeaderFence, microTime } from './leader-election.ts';
import type { KubeClient } from './client.ts';

// This layer's families, read as a scrape of the process's registry would show them.
const registry = new Registry();
registerKubeMetrics(registry);

const LEASE_MS = 3000;
const RETRY_MS = 500;

interface Lease {
  metadata: { resourceVersion: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

function elector(
  kube: KubeClient,
  name: string,
  identity: string,
  releaseOnCancel = true,
  fence?: LeaderFence,
): LeaderElector {
  return new LeaderElector({
    ...(fence ? { fence } : {}),
    kube,
    namespace: 'default',
    name,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: 2000,
    retryPeriodMs: RETRY_MS,
    releaseOnCancel,
    log: silentLogger,
  });
}

const getLease = (kube: KubeClient, name: string): Promise<Lease> =>
  kube.get<Lease>(`/apis/coordination.k8s.io/v1/namespaces/default/leases/${name}`);

/** Runs an elector; `leading` resolves when it starts leading, `done` with run()'s outcome. */
function campaign(e: LeaderElector, signal: AbortSignal) {
  let started!: (at: number) => void;
  const leading = new Promise<number>((resolve) => (started = resolve));
  let workStopped = false;
  const done = e.run(signal, {
    async onStartedLeading(work) {
      started(performance.now());
      await new Promise((resolve) => work.addEventListener('abort', resolve, { once: true }));
      workStopped = true;
    },
  });
  return { leading, done, workStopped: () => workStopped };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = sleep(ms).then(() => {
    throw new Error(`${what} did not happen within ${ms} ms`);
  });
  return Promise.race([p, timeout]);
}

test('MicroTime has six fractional digits', () => {
  assert.equal(microTime(new Date('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
});

test('one leads; an abrupt stop (no release) hands over within lease duration + retry', async () => {
  const { client } = await testKube();
  const name = uniqueName('lease');
  const stopA = new AbortController();
  const stopB = new AbortController();
  // Without release, stopping a is what a crash looks like to b.
  const a = elector(client, name, 'node-a_1', false);
  const b = elector(client, name, 'node-b_2');
  const ca = campaign(a, stopA.signal);
  await within(ca.leading, 5000, 'a leading');
  const metrics = await registry.getSingleMetricAsString('leader_election_master_status');
  assert.match(metrics, new RegExp(`leader_election_master_status\\{name="${name}"\\} 1`));
  const cb = campaign(b, stopB.signal);
  try {
    // b stays a candidate while a renews, for well over a lease duration.
    await sleep(LEASE_MS + 1000);
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    assert.equal(b.leader(), 'node-a_1');
    const held = await getLease(client, name);
    assert.equal(held.spec.holderIdentity, 'node-a_1');
    assert.equal(held.spec.leaseDurationSeconds, 3);
    assert.equal(held.spec.leaseTransitions, 0);
    assert.match(held.spec.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.notEqual(held.spec.renewTime, held.spec.acquireTime, 'a renewed');
    const stoppedAt = performance.now();
    stopA.abort();
    assert.equal(await ca.done, 'stopped');
    assert.ok(ca.workStopped(), 'leader work stopped before run() returned');
    const tookOver = await within(cb.leading, LEASE_MS + 3 * RETRY_MS + 2000, 'b takeover');
    const gap = tookOver - stoppedAt;
    console.log(`takeover after abrupt stop: ${Math.round(gap)} ms (lease ${LEASE_MS} ms)`);
    // Never before the lease could have expired from b's point of view; within lease + retry.
    assert.ok(gap >= LEASE_MS - 2 * RETRY_MS - 100, `took over too early: ${gap} ms`);
    assert.ok(gap <= LEASE_MS + RETRY_MS * (1 + 1.2) + 1000, `took over too late: ${gap} ms`);
    const after = await getLease(client, name);
    assert.equal(after.spec.holderIdentity, 'node-b_2');
    assert.equal(after.spec.leaseTransitions, 1);
  } finally {
    stopA.abort();
    stopB.abort();
    await Promise.all([ca.done, cb.done]);
  }
});

test('graceful stop releases the lease; the standby takes over at once', async () => {
  const { client } = await testKube();
  const name = uniqueName('lease');
  const stopA = new AbortController();
  const stopB = new AbortController();
  const a = elector(client, name, 'node-a_1');
  const b = elector(client, name, 'node-b_2');
  const ca = campaign(a, stopA.signal);
  await within(ca.leading, 5000, 'a leading');
  const cb = campaign(b, stopB.signal);
  try {
    await sleep(1000);
    const stoppedAt = performance.now();
    stopA.abort();
    assert.equal(await ca.done, 'stopped');
    const released = await getLease(client, name).catch(() => undefined);
    // b may already have taken it; if not, it is released.
    if (released && released.spec.holderIdentity !== 'node-b_2') {
      assert.equal(released.spec.holderIdentity, '');
      assert.equal(released.spec.leaseDurationSeconds, 1);
    }
    const tookOver = await within(cb.leading, 3000, 'b takeover');
    const gap = tookOver - stoppedAt;
    console.log(`takeover after release: ${Math.round(gap)} ms`);
    // One jittered retry period at most, far below the lease duration.
    assert.ok(gap < RETRY_MS * 2.2 + 500, `takeover took ${gap} ms`);
    assert.equal((await getLease(client, name)).spec.leaseTransitions, 1);
  } finally {
    stopA.abort();
    stopB.abort();
    await Promise.all([ca.done, cb.done]);
  }
});

test('a leader that cannot renew stops leading within the renew deadline', async () => {
  const { client } = await testKube();
  const name = uniqueName('lease');
  const stop = new AbortController();
  const a = elector(client, name, 'node-a_1');
  const ca = campaign(a, stop.signal);
  try {
    await within(ca.leading, 5000, 'a leading');
    // Someone else forcibly takes the Lease (as an operator deleting it and another replica
    // recreating it would): a's renewals now fail since b holds an unexpired lease.
    const lease = await getLease(client, name);
    await client.put(`/apis/coordination.k8s.io/v1/namespaces/default/leases/${name}`, {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: 'intruder',
        renewTime: microTime(new Date()),
        leaseDurationSeconds: 30,
      },
    });
    const outcome = await within(ca.done, 2000 + 3 * RETRY_MS + 1000, 'lost');
    assert.equal(outcome, 'lost');
    assert.ok(ca.workStopped());
    assert.equal(a.isLeader(), false);
    assert.equal(
      (await getLease(client, name)).spec.holderIdentity,
      'intruder',
      'a lost lease is not released',
    );
  } finally {
    stop.abort();
    await ca.done;
  }
});

test('a lost Lease stops the leader at once: fence tripped, run() returns without waiting for its work', async () => {
  const { client } = await testKube();
  const name = uniqueName('lease');
  const stop = new AbortController();
  const fence = new LeaderFence();
  const a = elector(client, name, 'node-a_1', true, fence);
  let started!: () => void;
  const leading = new Promise<void>((resolve) => (started = resolve));
  let stoppedLeading = false;
  const never = new Promise<void>(() => undefined);
  const done = a.run(stop.signal, {
    onStartedLeading: () => {
      started();
      return never; // work that ignores its signal: the elector must not wait for it
    },
    onStoppedLeading: () => (stoppedLeading = true),
  });
  try {
    await within(leading, 5000, 'a leading');
    fence.assertLeading();
    const lease = await getLease(client, name);
    const takenAt = performance.now();
    await client.put(`/apis/coordination.k8s.io/v1/namespaces/default/leases/${name}`, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: microTime(new Date()) },
    });
    // Seen at the next renewal (one retry period), not after the 2 s renew deadline.
    assert.equal(await within(done, 3 * RETRY_MS + 1000, 'lost'), 'lost');
    assert.ok(performance.now() - takenAt < 2000, 'lost before the renew deadline');
    assert.ok(stoppedLeading);
    assert.ok(fence.signal.aborted);
    assert.throws(() => fence.assertLeading(), /leaderelection lost/);
  } finally {
    stop.abort();
  }
});

test('a fence whose last renewal is a lease duration old refuses to act (a frozen leader waking up)', () => {
  const fence = new LeaderFence();
  fence.assertLeading(); // before leadership: startup checks may run
  fence.renewed(performance.now() + 60_000);
  fence.assertLeading();
  fence.renewed(performance.now() - 1);
  assert.throws(() => fence.assertLeading(), /not renewed within its duration/);
  assert.ok(fence.signal.aborted, 'requests in flight are aborted too');
});

test('concurrent candidates: exactly one leads', async () => {
  const { client } = await testKube();
  const name = uniqueName('lease');
  const stop = new AbortController();
  const electors = [1, 2, 3].map((i) => elector(client, name, `node-${i}_x`));
  const runs = electors.map((e) => campaign(e, stop.signal));
  try {
    await within(Promise.race(runs.map((r) => r.leading)), 5000, 'someone leading');
    for (let i = 0; i < 6; i++) {
      await sleep(RETRY_MS);
      assert.equal(electors.filter((e) => e.isLeader()).length, 1);
    }
  } finally {
    stop.abort();
    await Promise.all(runs.map((r) => r.done));
  }
});
