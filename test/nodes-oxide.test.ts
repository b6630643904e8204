// Node and node-lifecycle controllers with the real Oxide provider, against the Oxide simulator
// over HTTP and the real kube-apiserver: what a cluster sees when kubelets register.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1EventList, V1Node, V1NodeList } from '@kubernetes/client-node';
import type { Simulator } from '../sim/server.ts';
import { NodeLifecycleController } from '../src/controllers/node-lifecycle/controller.ts';
import { NodeController } from '../src/controllers/node/controller.ts';
import type { KubeClient } from '../src/kube/client.ts';
import { TAINT_SHUTDOWN, TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { registry } from '../src/metrics-registry.ts';
import { kubectl } from './harness/delivery.ts';
import { waitFor } from './harness/context.ts';
import { testKube, uniqueName } from './harness/kube.ts';
import { createKubeletNode, getNode, setNodeReady } from './harness/nodes.ts';
import { QUICK_RETRIES, startOxideEnv } from './harness/oxide-env.ts';
import type { OxideEnv } from './harness/oxide-env.ts';

let kube: KubeClient;
let kubeconfig: string;
let lifecycle: NodeLifecycleController;
let env: OxideEnv;
let sim: Simulator;

before(async () => {
  ({ client: kube, kubeconfig } = await testKube({ dedicated: true }));
  env = await startOxideEnv({
    kube,
    clientOptions: { timeoutMs: 500, ...QUICK_RETRIES },
    inventoryTtlMs: 200,
  });
  sim = env.sim;
  const nodes = new NodeController(env.ctx, { workers: 8, statusUpdateFrequencyMs: 1000 });
  lifecycle = new NodeLifecycleController(env.ctx, { monitorPeriodMs: 300 });
  env.start(nodes, lifecycle);
});

after(() => env.stop());

/** An address in the default subnet's v6 block (the simulator picks a random ULA /64 per VPC). */
const v6 = (host: string): string => {
  const block = sim.db.subnets.find((s) => s.name === 'default')?.ipv6Block ?? '';
  return block.replace('::/64', `::${host}`);
};

const isInitialized = (n: V1Node): boolean =>
  !(n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED);

async function initializedNode(name: string): Promise<V1Node> {
  return waitFor(`node ${name} initialized`, async () => {
    const n = await getNode(kube, name);
    return isInitialized(n) ? n : undefined;
  });
}

async function warnings(name: string): Promise<string[]> {
  const list = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return list.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`);
}

const nodeExists = async (name: string): Promise<boolean> =>
  getNode(kube, name).then(
    () => true,
    () => false,
  );

test('v4-only instance: providerID, instance type, Hostname then InternalIP then ephemeral ExternalIP (never SNAT)', async () => {
  const name = uniqueName('v4');
  const inst = sim.db.addInstance({
    name,
    ncpus: 4,
    memoryGiB: 16,
    nics: [{ primary: true, v4: '172.30.0.11' }],
    ephemeralIp: '198.51.100.11',
    snatIp: '198.51.100.200',
  });
  await createKubeletNode(kube, name);
  const node = await initializedNode(name);
  assert.equal(node.spec?.providerID, `oxide://${inst.id}`);
  assert.equal(node.metadata?.labels?.['node.kubernetes.io/instance-type'], '4-16');
  assert.equal(node.metadata?.labels?.['beta.kubernetes.io/instance-type'], '4-16');
  assert.equal(node.metadata?.labels?.['oxide.computer/instance-id'], inst.id);
  assert.deepEqual(node.status?.addresses, [
    { type: 'Hostname', address: name },
    { type: 'InternalIP', address: '172.30.0.11' },
    { type: 'ExternalIP', address: '198.51.100.11' },
  ]);
});

test('v6-only, dual-stack and multi-NIC instances: addresses NIC by NIC in API order', async () => {
  const v6only = uniqueName('v6');
  sim.db.addInstance({ name: v6only, nics: [{ primary: true, v6: v6('11') }] });
  const dual = uniqueName('dual');
  sim.db.addInstance({ name: dual, nics: [{ primary: true, v4: '172.30.0.12', v6: v6('12') }] });
  const multi = uniqueName('multi');
  sim.db.addInstance({
    name: multi,
    nics: [
      { name: 'net0', primary: true, v4: '172.30.0.13' },
      { name: 'net1', v4: '172.30.0.14', v6: v6('14') },
    ],
  });
  await Promise.all([v6only, dual, multi].map((n) => createKubeletNode(kube, n)));
  assert.deepEqual((await initializedNode(v6only)).status?.addresses, [
    { type: 'Hostname', address: v6only },
    { type: 'InternalIP', address: v6('11') },
  ]);
  assert.deepEqual((await initializedNode(dual)).status?.addresses, [
    { type: 'Hostname', address: dual },
    { type: 'InternalIP', address: '172.30.0.12' },
    { type: 'InternalIP', address: v6('12') },
  ]);
  assert.deepEqual((await initializedNode(multi)).status?.addresses, [
    { type: 'Hostname', address: multi },
    { type: 'InternalIP', address: '172.30.0.13' },
    { type: 'InternalIP', address: '172.30.0.14' },
    { type: 'InternalIP', address: v6('14') },
  ]);
});

test('floating IP attached to the instance becomes an ExternalIP', async () => {
  const name = uniqueName('fip');
  sim.db.addInstance({ name, nics: [{ primary: true, v4: '172.30.0.15' }] });
  sim.db.createFloatingIp({ name: `${name}-fip`, ip: '198.51.100.15', instance: name });
  await createKubeletNode(kube, name);
  assert.deepEqual((await initializedNode(name)).status?.addresses, [
    { type: 'Hostname', address: name },
    { type: 'InternalIP', address: '172.30.0.15' },
    { type: 'ExternalIP', address: '198.51.100.15' },
  ]);
});

test('lookup by providerID, by name and by hostname', async () => {
  const byId = uniqueName('byid');
  const inst = sim.db.addInstance({
    name: `${byId}-instance`,
    nics: [{ primary: true, v4: '172.30.0.16' }],
  });
  await createKubeletNode(kube, byId, { providerID: `oxide://${inst.id}` });
  assert.equal((await initializedNode(byId)).spec?.providerID, `oxide://${inst.id}`);

  const byHost = uniqueName('byhost');
  const hosted = sim.db.addInstance({
    name: `capi-${byHost}`,
    hostname: byHost,
    nics: [{ primary: true, v4: '172.30.0.17' }],
  });
  await createKubeletNode(kube, byHost);
  const node = await initializedNode(byHost);
  assert.equal(node.spec?.providerID, `oxide://${hosted.id}`);
  assert.equal(node.status?.addresses?.[0]?.address, byHost);
});

test('no instance yet: taint kept with a Warning event, Node not deleted while NotReady, then the instance appears and the Node initializes', async () => {
  const name = uniqueName('late');
  await createKubeletNode(kube, name);
  await waitFor('warning', async () => (await warnings(name)).length > 0);
  assert.equal(isInitialized(await getNode(kube, name)), false);
  // What the README tells an operator to run: the Event is listed under the Node, and retries
  // fold into its count instead of piling up one Event each.
  const described = await waitFor('folded warning in kubectl describe', async () => {
    const out = await kubectl(kubeconfig, ['describe', 'node', name]);
    return /Warning\s+InstanceNotFound\s+\S+ \(x\d+ over \S+\)\s+cloud-node-controller/.test(out)
      ? out
      : undefined;
  });
  assert.doesNotMatch(described, /Events:\s+<none>/);
  const stored = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
    query: { fieldSelector: `involvedObject.name=${name},reason=InstanceNotFound` },
  });
  assert.equal(stored.items.length, 1, 'one Event per object and reason');
  assert.equal(stored.items[0]?.involvedObject.kind, 'Node');
  // NotReady and no instance: the lifecycle controller leaves a never-initialized Node alone.
  const notReady = await setNodeReady(kube, name, false);
  // Once the informer holds the NotReady version, one full lifecycle pass decides about it.
  const nodes = env.ctx.informers.nodes();
  await waitFor(
    'informer saw NotReady',
    () =>
      Number(nodes.get(name)?.metadata?.resourceVersion ?? 0) >=
      Number(notReady.metadata?.resourceVersion),
  );
  await lifecycle.monitorNodes();
  assert.equal(await nodeExists(name), true, 'uninitialized Node deleted');
  sim.db.addInstance({ name, nics: [{ primary: true, v4: '172.30.0.18' }] });
  await waitFor('initialized', async () => isInitialized(await getNode(kube, name)), 40_000);
});

test('provided-node-ip valid (chosen first) and invalid (taint kept, Warning)', async () => {
  const good = uniqueName('nodeip');
  sim.db.addInstance({
    name: good,
    nics: [
      { primary: true, v4: '172.30.0.19' },
      { name: 'net1', v4: '172.30.0.20' },
    ],
  });
  await createKubeletNode(kube, good, { providedNodeIP: '172.30.0.20' });
  assert.deepEqual((await initializedNode(good)).status?.addresses, [
    { type: 'InternalIP', address: '172.30.0.20' },
    { type: 'Hostname', address: good },
  ]);

  const bad = uniqueName('badip');
  sim.db.addInstance({ name: bad, nics: [{ primary: true, v4: '172.30.0.21' }] });
  await createKubeletNode(kube, bad, { providedNodeIP: '172.30.0.99' });
  await waitFor('mismatch warning', async () =>
    (await warnings(bad)).some(
      (w) => w.startsWith('ProvidedNodeIPMismatch') && w.includes('172.30.0.99'),
    ),
  );
  assert.equal(isInitialized(await getNode(kube, bad)), false);
});

test('address change is picked up by the periodic resync', async () => {
  const name = uniqueName('moved');
  sim.db.addInstance({ name, nics: [{ primary: true, v4: '172.30.0.22' }] });
  await createKubeletNode(kube, name);
  await initializedNode(name);
  sim.db.setNicIps(name, { v4: '172.30.0.23' });
  await waitFor('new address', async () =>
    (await getNode(kube, name)).status?.addresses?.some((a) => a.address === '172.30.0.23'),
  );
});

test('stopped instance: shutdown taint on the NotReady Node; started and Ready: taint removed', async () => {
  const name = uniqueName('stop');
  sim.db.addInstance({ name, nics: [{ primary: true, v4: '172.30.0.24' }] });
  await createKubeletNode(kube, name);
  await initializedNode(name);
  sim.db.setRunState(name, 'stopped');
  await setNodeReady(kube, name, false);
  const tainted = await waitFor('shutdown taint', async () => {
    const n = await getNode(kube, name);
    return n.spec?.taints?.find((t) => t.key === TAINT_SHUTDOWN);
  });
  assert.equal(tainted.effect, 'NoSchedule');
  sim.db.setRunState(name, 'running');
  await setNodeReady(kube, name, true);
  await waitFor(
    'shutdown taint removed',
    async () => !(await getNode(kube, name)).spec?.taints?.some((t) => t.key === TAINT_SHUTDOWN),
  );
});

test('Oxide 500, 503, 429 and timeouts while an instance is unreachable never delete the Node; a 404 does', async () => {
  const name = uniqueName('gone');
  sim.db.addInstance({ name, nics: [{ primary: true, v4: '172.30.0.25' }] });
  await createKubeletNode(kube, name);
  await initializedNode(name);
  await setNodeReady(kube, name, false);

  for (const fault of [
    { status: 500 },
    { status: 503 },
    { status: 429, retryAfterSeconds: 0 },
    { timeout: true },
  ]) {
    sim.faults.clear();
    sim.faults.add({ operation: 'instance_view', ...fault });
    sim.faults.add({ operation: 'instance_list', ...fault });
    sim.db.deleteInstance(name);
    const before = sim.requests.count('instance_view');
    await waitFor(
      'lifecycle asked Oxide',
      () => sim.requests.count('instance_view') > before + 1,
      20_000,
    );
    assert.equal(await nodeExists(name), true, `Node deleted during ${JSON.stringify(fault)}`);
    sim.db.addInstance({ name, nics: [{ primary: true, v4: '172.30.0.25' }] });
  }
  sim.faults.clear();
  // Back to an existing instance (new uuid): the Node's providerID points at the old one, now 404.
  await waitFor('node deleted on 404', async () => !(await nodeExists(name)), 20_000);
  const events = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
    query: { fieldSelector: `involvedObject.name=${name},reason=DeletingNode` },
  });
  assert.equal(events.items.length > 0, true);
});

test('oxide_ccm_nodes counts the Nodes by the uninitialized taint, as the API has them', async () => {
  // One Node no instance answers to (stays uninitialized) and one that initializes.
  const stuck = uniqueName('no-instance');
  const ok = uniqueName('counted');
  sim.db.addInstance({ name: ok, nics: [{ primary: true, v4: '172.30.0.99' }] });
  await createKubeletNode(kube, stuck);
  await createKubeletNode(kube, ok);
  await initializedNode(ok);
  const gauge = registry.getSingleMetric('oxide_ccm_nodes');
  assert.ok(gauge);
  await waitFor('the gauge to match the API', async () => {
    const nodes = (await kube.get<V1NodeList>('/api/v1/nodes')).items;
    const want = {
      initialized: nodes.filter(isInitialized).length,
      uninitialized: nodes.filter((n) => !isInitialized(n)).length,
    };
    const { values } = await gauge.get();
    const got = Object.fromEntries(values.map((v) => [String(v.labels['state']), v.value]));
    return want.uninitialized >= 1 &&
      got['initialized'] === want.initialized &&
      got['uninitialized'] === want.uninitialized
      ? true
      : undefined;
  });
});
