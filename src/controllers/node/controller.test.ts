// The node controller against the real kube-apiserver and the fake cloud: exact writes, events
// and retries. The Oxide provider is covered against the simulator in test/node-oxide.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1EventList, V1Node } from '@kubernetes/client-node';
import { FakeCloud } from '../../../test/fake/cloud.ts';
import type { FakeInstance } from '../../../test/fake/cloud.ts';
import type { NodeAddress } from '../../cloud/provider.ts';
import { testContext, waitFor } from '../../../test/harness/context.ts';
import { createKubeletNode, getNode } from '../../../test/harness/nodes.ts';
import { testKube, uniqueName } from '../../../test/harness/kube.ts';
import { loadKubeconfig } from '../../kube/kubeconfig.ts';
import { KubeClient } from '../../kube/client.ts';
import type { RequestOptions } from '../../kube/client.ts';
import { TAINT_UNINITIALIZED } from '../../kube/well-known.ts';
import { NodeController } from './controller.ts';

/** Records every request the controller makes, to check how many writes a Node costs. */
class RecordingKubeClient extends KubeClient {
  readonly requests: string[] = [];
  override request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    this.requests.push(`${method} ${path}`);
    return super.request<T>(method, path, options);
  }
}

let kube: KubeClient;
let controllerKube: RecordingKubeClient;
const cloud = new FakeCloud();
const abort = new AbortController();
let running: Promise<void>;

const instance = (name: string, extra: Partial<FakeInstance['metadata']> = {}): FakeInstance => ({
  metadata: {
    providerID: `fake://${name}`,
    instanceType: '4-16',
    nodeAddresses: [
      { type: 'Hostname', address: name },
      { type: 'InternalIP', address: '172.30.0.10' },
      { type: 'InternalIP', address: '172.30.1.10' },
      { type: 'ExternalIP', address: '203.0.113.10' },
    ],
    zone: '',
    region: 'rack-1',
    additionalLabels: { 'oxide.computer/project': 'k8s', 'node.kubernetes.io/evil': 'x' },
    ...extra,
  },
});

const initialized = (n: V1Node): boolean =>
  !(n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED);

async function eventsFor(
  name: string,
): Promise<{ reason: string; type: string; message: string }[]> {
  const list = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return list.items.map((e) => ({
    reason: e.reason ?? '',
    type: e.type ?? '',
    message: e.message ?? '',
  }));
}

before(async () => {
  const env = await testKube({ dedicated: true });
  kube = env.client;
  const kc = loadKubeconfig(env.kubeconfig);
  controllerKube = new RecordingKubeClient(kc, { qps: 500, burst: 1000 });
  const ctx = testContext(controllerKube, cloud);
  const controller = new NodeController(ctx, { workers: 4, statusUpdateFrequencyMs: 500 });
  ctx.informers.start(abort.signal);
  running = controller.run(abort.signal);
});

after(async () => {
  abort.abort();
  await running;
});

test('initializes a tainted Node: providerID, labels, addresses in order, taint removed, Synced event', async () => {
  const name = uniqueName('node-init');
  cloud.instancesByNode.set(name, instance(name));
  await createKubeletNode(kube, name);
  const node = await waitFor('initialized', async () => {
    const n = await getNode(kube, name);
    return initialized(n) ? n : undefined;
  });
  assert.equal(node.spec?.providerID, `fake://${name}`);
  const call = cloud.callsOf('instanceMetadata').find((c) => c.target === name);
  assert.equal(call?.signal, abort.signal, 'the run signal reaches the provider');
  assert.equal(node.metadata?.labels?.['node.kubernetes.io/instance-type'], '4-16');
  assert.equal(node.metadata?.labels?.['beta.kubernetes.io/instance-type'], '4-16');
  assert.equal(node.metadata?.labels?.['topology.kubernetes.io/region'], 'rack-1');
  assert.equal(node.metadata?.labels?.['failure-domain.beta.kubernetes.io/region'], 'rack-1');
  assert.equal(
    node.metadata?.labels?.['topology.kubernetes.io/zone'],
    undefined,
    'no empty zone label',
  );
  assert.equal(node.metadata?.labels?.['oxide.computer/project'], 'k8s');
  assert.equal(
    node.metadata?.labels?.['node.kubernetes.io/evil'],
    undefined,
    'reserved domain refused',
  );
  assert.deepEqual(node.status?.addresses, [
    { type: 'Hostname', address: name },
    { type: 'InternalIP', address: '172.30.0.10' },
    { type: 'InternalIP', address: '172.30.1.10' },
    { type: 'ExternalIP', address: '203.0.113.10' },
  ]);
  const events = await waitFor('Synced event', async () => {
    const e = await eventsFor(name);
    return e.some((x) => x.reason === 'Synced') ? e : undefined;
  });
  assert.ok(events.some((e) => e.type === 'Normal' && e.message === 'Node synced successfully'));
  // Upstream's write budget: one status patch (addresses) and one update (providerID, labels,
  // taint), each answer chained into the next so there is no conflict and no re-read.
  const nodeRequests = controllerKube.requests.filter((r) => r.includes(`/nodes/${name}`));
  assert.deepEqual(nodeRequests, [
    `PATCH /api/v1/nodes/${name}/status`,
    `PUT /api/v1/nodes/${name}`,
  ]);
});

test('missing instance keeps the taint and warns; once the instance exists the Node initializes', async () => {
  const name = uniqueName('node-late');
  await createKubeletNode(kube, name);
  await waitFor('InstanceNotFound warning', async () =>
    (await eventsFor(name)).some((e) => e.type === 'Warning' && e.reason === 'InstanceNotFound'),
  );
  assert.equal(
    initialized(await getNode(kube, name)),
    false,
    'taint kept while the instance is missing',
  );
  cloud.instancesByNode.set(name, instance(name));
  await waitFor(
    'initialized after retry',
    async () => initialized(await getNode(kube, name)),
    30_000,
  );
});

test('provided-node-ip: matching address first, other InternalIPs dropped', async () => {
  const name = uniqueName('node-nodeip');
  cloud.instancesByNode.set(name, instance(name));
  await createKubeletNode(kube, name, { providedNodeIP: '172.30.1.10' });
  const node = await waitFor('initialized', async () => {
    const n = await getNode(kube, name);
    return initialized(n) ? n : undefined;
  });
  assert.deepEqual(node.status?.addresses, [
    { type: 'InternalIP', address: '172.30.1.10' },
    { type: 'Hostname', address: name },
    { type: 'ExternalIP', address: '203.0.113.10' },
  ]);
});

test('provided-node-ip not among the instance addresses: taint kept, Warning event', async () => {
  const name = uniqueName('node-badip');
  cloud.instancesByNode.set(name, instance(name));
  await createKubeletNode(kube, name, { providedNodeIP: '10.9.9.9' });
  const events = await waitFor('mismatch warning', async () => {
    const e = await eventsFor(name);
    return e.some((x) => x.reason === 'ProvidedNodeIPMismatch') ? e : undefined;
  });
  assert.match(
    events.find((e) => e.reason === 'ProvidedNodeIPMismatch')?.message ?? '',
    /10\.9\.9\.9/,
  );
  assert.equal(initialized(await getNode(kube, name)), false);
});

test('a cloud error keeps the taint and is retried with backoff', async () => {
  const name = uniqueName('node-flaky');
  cloud.instancesByNode.set(name, instance(name));
  cloud.failNext('instanceMetadata', new Error('oxide: 503 ServiceNotAvailable'), 2, name);
  await createKubeletNode(kube, name);
  await waitFor('initialized after retries', async () => initialized(await getNode(kube, name)));
  assert.ok(cloud.callsOf('instanceMetadata').filter((c) => c.target === name).length >= 3);
});

test('the periodic resync picks up changed addresses of an initialized Node', async () => {
  const name = uniqueName('node-resync');
  cloud.instancesByNode.set(name, instance(name));
  await createKubeletNode(kube, name);
  await waitFor('initialized', async () => initialized(await getNode(kube, name)));
  const moved = instance(name, {
    nodeAddresses: [
      { type: 'Hostname', address: name },
      { type: 'InternalIP', address: '172.30.2.20' },
    ],
  });
  cloud.instancesByNode.set(name, moved);
  const node = await waitFor('addresses updated', async () => {
    const n = await getNode(kube, name);
    return n.status?.addresses?.some((a) => a.address === '172.30.2.20') ? n : undefined;
  });
  assert.deepEqual(node.status?.addresses, [
    { type: 'Hostname', address: name },
    { type: 'InternalIP', address: '172.30.2.20' },
  ]);
});

test('a resync that finds the same addresses in another order writes nothing and records no event', async () => {
  const name = uniqueName('node-steady');
  const addresses: NodeAddress[] = [
    { type: 'Hostname', address: name },
    { type: 'InternalIP', address: '172.30.0.30' },
    { type: 'ExternalIP', address: '203.0.113.30' },
    { type: 'ExternalIP', address: '203.0.113.31' },
  ];
  cloud.instancesByNode.set(name, instance(name, { nodeAddresses: addresses }));
  await createKubeletNode(kube, name);
  await waitFor('initialized', async () => initialized(await getNode(kube, name)));
  // The floating IP and the ephemeral one come back the other way round from now on.
  const swapped = [addresses[0]!, addresses[1]!, addresses[3]!, addresses[2]!];
  cloud.instancesByNode.set(name, instance(name, { nodeAddresses: swapped }));
  const calls = (): number =>
    cloud.callsOf('instanceMetadata').filter((c) => c.target === name).length;
  const seen = calls();
  await waitFor('two resyncs read the swapped order', () => calls() >= seen + 2, 20_000);
  const nodeRequests = controllerKube.requests.filter((r) => r.includes(`/nodes/${name}`));
  assert.deepEqual(nodeRequests, [
    `PATCH /api/v1/nodes/${name}/status`,
    `PUT /api/v1/nodes/${name}`,
  ]);
  assert.deepEqual((await getNode(kube, name)).status?.addresses, addresses);
  assert.deepEqual(
    (await eventsFor(name)).map((e) => e.reason),
    ['Synced'],
  );
});
