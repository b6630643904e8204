// The fault matrix: every controller with the real provider against a dedicated kube-apiserver
// and the Oxide simulator; each fault is active for a short window while Nodes and Services
// change, the safety invariants are checked throughout, then the fault clears and the cluster
// must converge. The recovery time of each is printed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FaultSpec } from '../sim/server.ts';
import { World } from './harness/faults-world.ts';

let world: World;
const recovery: { fault: string; ms: number }[] = [];

before(async () => {
  world = await World.start();
  for (let i = 0; i < 4; i++) await world.addNode();
  for (let i = 0; i < 3; i++) await world.addService();
  await world.converge(60_000);
});

after(async () => {
  console.log('fault matrix: time from the fault clearing to a converged cluster');
  for (const r of recovery) console.log(`  ${r.fault.padEnd(44)} ${String(r.ms).padStart(6)} ms`);
  await world?.stop();
});

const FAULT_WINDOW_MS = 2500;

interface Scenario {
  apply(): Promise<void> | void;
  clear(): Promise<void> | void;
}

/**
 * While the fault is active: a new Node, a new Service, a Service deleted, and a Node whose
 * instance exists goes NotReady (the lifecycle controller must not delete it).
 */
async function run(name: string, scenario: Scenario, window = FAULT_WINDOW_MS): Promise<void> {
  const someNode = [...world.nodes.keys()][0] ?? '';
  const oldService = [...world.services][0] ?? '';
  await scenario.apply();
  await world.addNode();
  await world.addService();
  await world.deleteService(oldService);
  await world.setReady(someNode, false);
  await world.watchSafety(window);
  await scenario.clear();
  const ms = Math.round(await world.converge(60_000));
  recovery.push({ fault: name, ms });
  await world.setReady(someNode, true);
}

const oxideFault = (spec: FaultSpec): Scenario => ({
  apply: () => world.sim.faults.add(spec),
  clear: () => world.sim.faults.clear(),
});

test('Oxide 500 on every call', () => run('Oxide 500', oxideFault({ status: 500 })));

test('Oxide 503 with Retry-After', () =>
  run('Oxide 503 + Retry-After: 1', oxideFault({ status: 503, retryAfterSeconds: 1 })));

test('Oxide 429 with Retry-After', () =>
  run('Oxide 429 + Retry-After: 1', oxideFault({ status: 429, retryAfterSeconds: 1 })));

test('Oxide requests never answered (client timeouts)', () =>
  run('Oxide timeouts (no answer)', oxideFault({ timeout: true }), 4000));

test('Oxide slow (800 ms per request, under the timeout)', () =>
  run('Oxide slow (800 ms)', oxideFault({ latencyMs: 800 })));

test('Oxide drops connections', () => run('Oxide dropped connections', oxideFault({ drop: true })));

test('paginated lists fail on page 2', () =>
  run(
    'Oxide list page 2 fails (500)',
    oxideFault({ method: 'GET', query: /page_token=/, status: 500 }),
  ));

test('401 after the token is rotated, until the new one is in place', () =>
  run('Oxide 401 (token revoked, then valid)', {
    apply: () => world.sim.revokeToken(world.sim.token),
    clear: () => void world.sim.addToken('default', world.sim.token),
  }));

test('kube-apiserver restart', async () => {
  // Oxide-side changes while the apiserver is down; Kubernetes changes right after it is back.
  await world.cp.stopApiserver();
  const stopped = performance.now();
  await new Promise((r) => setTimeout(r, 2000));
  await world.cp.startApiserver();
  const restarted = Math.round(performance.now() - stopped);
  await run(`kube-apiserver restart (down ${restarted} ms)`, { apply() {}, clear() {} }, 200);
});

/** Objects as JSON (plain data, so spreading them keeps every field). */
interface Raw {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

test('409 conflicts: another writer changes the same Nodes and Services', async () => {
  let fighting = true;
  const fight = (async () => {
    for (let i = 0; fighting; i++) {
      const nodes = await world.kube.get<{ items: Raw[] }>('/api/v1/nodes');
      const svcs = await world.kube.get<{ items: Raw[] }>(
        `/api/v1/namespaces/${world.ns}/services`,
      );
      await Promise.all([
        ...nodes.items.map((n) =>
          world.kube
            .put(`/api/v1/nodes/${n.metadata.name}`, {
              ...n,
              metadata: { ...n.metadata, labels: { ...n.metadata.labels, fight: String(i) } },
            })
            .catch(() => undefined),
        ),
        ...svcs.items.map((s) =>
          world.kube
            .put(`/api/v1/namespaces/${world.ns}/services/${s.metadata.name}`, {
              ...s,
              metadata: {
                ...s.metadata,
                annotations: { ...s.metadata.annotations, fight: String(i) },
              },
            })
            .catch(() => undefined),
        ),
      ]);
    }
  })();
  await run('409 conflicts (concurrent writer)', {
    apply() {},
    async clear() {
      fighting = false;
      await fight;
    },
  });
});

test('a Node deleted while its reconcile is in flight', async () => {
  world.sim.faults.add({ operation: 'instance_view', latencyMs: 700 });
  world.sim.faults.add({ operation: 'instance_list', latencyMs: 700 });
  const before = world.sim.requests.count();
  const name = await world.addNode();
  // Deleted once the controllers are talking to Oxide about it.
  while (world.sim.requests.count() === before) await new Promise((r) => setTimeout(r, 20));
  await world.deleteNode(name);
  world.sim.faults.clear();
  const ms = Math.round(await world.converge(60_000));
  recovery.push({ fault: 'Node deleted mid-reconcile', ms });
  assert.equal(world.rejections.length, 0);
});
