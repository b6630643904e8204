// A Node claiming another project's instance (issue 11, attack 3): the node and node-lifecycle
// controllers with the real provider against the real kube-apiserver and the simulator, whose
// silo holds a second project. The providerID is refused: Warning event on the Node, the Node
// stays uninitialized (no addresses, no labels), and neither controller deletes it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1EventList, V1Node } from '@kubernetes/client-node';
import type { Simulator } from '../sim/server.ts';
import { NodeLifecycleController } from '../src/controllers/node-lifecycle/controller.ts';
import { NodeController } from '../src/controllers/node/controller.ts';
import type { KubeClient } from '../src/kube/client.ts';
import { TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { waitFor } from './harness/context.ts';
import { testKube } from './harness/kube.ts';
import { createKubeletNode, getNode } from './harness/nodes.ts';
import { QUICK_RETRIES, startOxideEnv } from './harness/oxide-env.ts';
import type { OxideEnv } from './harness/oxide-env.ts';

let kube: KubeClient;
let env: OxideEnv;
let sim: Simulator;
let theirs: string;

before(async () => {
  ({ client: kube } = await testKube({ dedicated: true }));
  env = await startOxideEnv({
    kube,
    seed: {
      project: 'k8s',
      instances: [{ name: 'own', nics: [{ primary: true, v4: '172.30.0.5' }] }],
    },
    clientOptions: { timeoutMs: 2000, ...QUICK_RETRIES },
    inventoryTtlMs: 200,
  });
  sim = env.sim;
  sim.db.addProject('other');
  theirs = sim.db.addInstance({
    name: 'theirs',
    project: 'other',
    nics: [{ primary: true, v4: '172.30.1.9' }],
  }).id;
  const nodes = new NodeController(env.ctx, { workers: 2, statusUpdateFrequencyMs: 300 });
  const lifecycle = new NodeLifecycleController(env.ctx, { monitorPeriodMs: 300 });
  env.start(nodes, lifecycle);
});

after(() => env.stop());

async function warnings(name: string): Promise<string[]> {
  const list = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return list.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`);
}

/** Views of that instance by id, i.e. the controllers asked the provider about it again. */
const viewsOf = (id: string): number =>
  sim.requests.entries.filter((e) => e.operationId === 'instance_view' && e.path.endsWith(id))
    .length;

test('an uninitialized Node naming another project’s instance: Warning, not initialized, not deleted', async () => {
  await createKubeletNode(kube, 'evil', { providerID: `oxide://${theirs}` });
  const seen = await waitFor('Warning on the Node', async () => {
    const w = await warnings('evil');
    return w.find((m) => m.includes('is not in project k8s'));
  });
  assert.match(
    seen,
    new RegExp(`^InitializationFailed: Failed to initialize node: instance ${theirs} `),
  );
  // Retried (with backoff) and refused each time: wait for a second look, then check.
  const first = viewsOf(theirs);
  await waitFor('the Node looked at again', () => viewsOf(theirs) > first, 30_000);
  const node = await getNode(kube, 'evil');
  assert.ok((node.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED));
  assert.deepEqual(
    (node.status?.addresses ?? []).map((a) => a.type),
    ['Hostname'],
    'no InternalIP from the foreign instance',
  );
  assert.equal(node.metadata?.labels?.['oxide.computer/instance-id'], undefined);
});

test('an initialized NotReady Node naming another project’s instance is never deleted for it', async () => {
  const node: V1Node = await createKubeletNode(kube, 'stale', {
    providerID: `oxide://${theirs}`,
    initialized: true,
    ready: false,
  });
  // The lifecycle controller asks whether the instance exists on every monitor period: wait for
  // several asks (the observable), then the Node must still be there, same object.
  const before = viewsOf(theirs);
  await waitFor('lifecycle checks', () => viewsOf(theirs) >= before + 3, 30_000);
  const still = await getNode(kube, 'stale');
  assert.equal(still.metadata?.uid, node.metadata?.uid);
  assert.equal(still.metadata?.deletionTimestamp, undefined);
});
