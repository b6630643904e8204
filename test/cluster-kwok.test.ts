// The CCM in a real cluster: etcd + kube-apiserver, kube-controller-manager (--cloud-provider=
// external: node lifecycle, node IPAM, EndpointSlices, Deployments), kube-scheduler, and kwok as
// every Node's kubelet (Leases, Ready, running Pods), with the CCM run from source as a process
// against the Oxide simulator over HTTP. Nothing here writes a Node condition, a taint, a pod
// CIDR or an EndpointSlice: the components that own them do. One bed for the whole file;
// every scenario registers its own Nodes and deletes them at the end. Timings are printed as
// test diagnostics (docs/testing.md lists them); they are never asserted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import type {
  CoreV1EventList,
  V1EndpointSliceList,
  V1Node,
  V1PodList,
} from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import type { InstanceSeed, Simulator } from '../sim/server.ts';
import { startSimulator } from '../sim/server.ts';
import { CcmProcess } from '../hack/demo/ccm.ts';
import { KubeClient } from '../src/kube/client.ts';
import { TAINT_SHUTDOWN, TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { startKubeCluster } from './harness/cluster.ts';
import type { KubeCluster } from './harness/cluster.ts';
import { waitFor } from './harness/context.ts';
import { ControlPlane } from './harness/controlplane.ts';
import {
  createLoadBalancer,
  nodeLease,
  registerKwokNode,
  startHeartbeats,
  stopHeartbeats,
} from './harness/kwok.ts';
import { freePort } from './harness/ports.ts';
import { repoRoot } from './harness/testbin.ts';

const CLUSTER = 'kubernetes';
const CLUSTER_CIDR = '10.244.0.0/16';
const ROUTER = `${CLUSTER}-pods`;
const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
const JOINING = 100;
/** Every wait is bounded; generous because CI has 2 cores for everything. */
const WAIT_MS = 90_000;

const joinNames = Array.from({ length: JOINING }, (_, i) => `join-${String(i).padStart(3, '0')}`);
/** A kubelet runs on each; the primary NIC may carry any pod CIDR, except rt-bare's. */
const instance = (name: string, transit = true): InstanceSeed => ({
  name,
  nics: [{ primary: true, ...(transit ? { transitIps: [CLUSTER_CIDR] } : {}) }],
});
/** Every tenth joining instance has a second NIC, and its kubelet runs with --node-ip on it. */
const withNodeIP = (i: number): boolean => i % 10 === 0;
const INSTANCES: InstanceSeed[] = [
  ...joinNames.map((n, i) =>
    withNodeIP(i)
      ? { name: n, nics: [{ primary: true, transitIps: [CLUSTER_CIDR] }, { name: 'net1' }] }
      : instance(n),
  ),
  ...['fo-a', 'fo-b', 'loc-a', 'loc-b', 'rt-ok', 'life-a'].map((n) => instance(n)),
  instance('rt-bare', false),
];

let cp: ControlPlane;
let kube: KubeClient;
let sim: Simulator;
let cluster: KubeCluster;
let ccm: CcmProcess;

before(async () => {
  const t0 = performance.now();
  cp = new ControlPlane({ detachFromProcess: true });
  const info = await cp.start();
  kube = KubeClient.load(info.kubeconfig, { qps: 500, burst: 1000 });
  sim = await startSimulator({ seed: { project: 'k8s', instances: INSTANCES } });
  cluster = await startKubeCluster({
    kubeconfig: info.kubeconfig,
    dir: info.dir,
    clusterCIDR: CLUSTER_CIDR,
    detachFromProcess: true,
  });
  ccm = new CcmProcess({
    repoRoot,
    kubeconfig: info.kubeconfig,
    port: await freePort(),
    logFile: join(info.dir, 'ccm.log'),
    oxide: { host: sim.url, token: sim.token, project: sim.project },
    extraArgs: [
      `--cluster-name=${CLUSTER}`,
      '--node-monitor-period=1s',
      '--allocate-node-cidrs',
      `--cluster-cidr=${CLUSTER_CIDR}`,
      '--route-reconciliation-period=5s',
      // The flag, end to end: routes on the default VPC's router, named rather than learned.
      '--oxide-routes-vpc=default',
      '--concurrent-service-syncs=4',
    ],
  });
  process.on('exit', () => ccm.killNow());
  await ccm.waitReady(Date.now() + WAIT_MS);
  console.log(`# bed up in ${secs(performance.now() - t0)}`);
});

after(async () => {
  await ccm?.stop();
  await cluster?.stop();
  await sim?.stop();
  await cp?.stop();
});

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function report(t: TestContext, lines: Record<string, number>): void {
  for (const [what, ms] of Object.entries(lines)) t.diagnostic(`${what}: ${secs(ms)}`);
}

/** Bounded wait whose failure message carries the logs of the components involved. */
function until<T>(what: string, fn: () => Promise<T> | T): Promise<NonNullable<T>> {
  return waitFor(what, fn, WAIT_MS, 200).catch((err: unknown) => {
    throw new Error(
      `${String(err)}\n--- ccm:\n${ccm.logTail(10)}\n--- kube-controller-manager:\n${cluster.kcm.logTail(10)}`,
    );
  });
}

const getNode = (name: string): Promise<V1Node> => kube.get<V1Node>(`/api/v1/nodes/${name}`);
const taintKeys = (n: V1Node): string[] => (n.spec?.taints ?? []).map((t) => t.key);
const ready = (n: V1Node): string | undefined =>
  n.status?.conditions?.find((c) => c.type === 'Ready')?.status;

/** Initialized by the CCM, Ready by kwok, not-ready taint removed by KCM: schedulable. */
const usable = (n: V1Node): boolean =>
  ready(n) === 'True' &&
  !!n.spec?.providerID?.startsWith('oxide://') &&
  !taintKeys(n).some((k) => k === TAINT_UNINITIALIZED || k === TAINT_NOT_READY);

/** Registers kwok Nodes, removed again when the test ends however it ends. */
async function joinNodes(t: TestContext, names: string[]): Promise<void> {
  t.after(() => removeNodes(names));
  await Promise.all(names.map((n) => registerKwokNode(kube, n)));
  await until(`${names.join(', ')} usable`, async () => {
    const nodes = await Promise.all(names.map(getNode));
    return nodes.every(usable);
  });
}

async function removeNodes(names: string[]): Promise<void> {
  await Promise.all(names.map((n) => kube.delete(`/api/v1/nodes/${n}`).catch(() => undefined)));
}

async function namespace(name: string): Promise<string> {
  await kube.post('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
  return name;
}

/** The private v4 address of the instance's second NIC, as the simulator assigned it. */
function secondIP(name: string): string {
  const inst = sim.db.instances.find((i) => i.name === name);
  const nic = sim.db.nics.find((n) => n.instanceId === inst?.id && !n.primary);
  const stack = nic?.ipStack;
  const ip =
    stack?.type === 'v4' ? stack.value.ip : stack?.type === 'dual_stack' ? stack.value.v4.ip : '';
  assert.ok(ip, `no private v4 address for ${name}`);
  return ip;
}

const fipOf = (ns: string, svc: string): FloatingIp | undefined =>
  sim.db.floatingIps.find((f) => f.name === `${CLUSTER}-${ns}-${svc}`);
const instanceName = (id: string | null | undefined): string | undefined =>
  sim.db.instances.find((i) => i.id === id)?.name;
/** The instance the Service's floating IP is attached to, once it is. */
const fipHolder = (ns: string, svc: string): string | undefined =>
  instanceName(fipOf(ns, svc)?.instanceId);

test(`1: ${JOINING} kwok Nodes join; the CCM initializes them and KCM removes node.kubernetes.io/not-ready`, async (t) => {
  t.after(() => removeNodes(joinNames));
  const t0 = performance.now();
  // kubelet --node-ip on the second NIC: the CCM must keep exactly that InternalIP.
  const nodeIP = new Map(joinNames.filter((_, i) => withNodeIP(i)).map((n) => [n, secondIP(n)]));
  await Promise.all(
    joinNames.map((n) => {
      const ip = nodeIP.get(n);
      return registerKwokNode(kube, n, ip ? { providedNodeIP: ip } : {});
    }),
  );
  const registered = performance.now();
  let initializedAt = 0;
  let readyAt = 0;
  const joined = await until(`${JOINING} Nodes initialized and untainted`, async () => {
    const list = await kube.get<{ items: V1Node[] }>('/api/v1/nodes');
    const mine = list.items.filter((n) => n.metadata?.name?.startsWith('join-'));
    if (mine.length !== JOINING) return undefined;
    const initialized = mine.filter((n) => !taintKeys(n).includes(TAINT_UNINITIALIZED));
    if (!initializedAt && initialized.length === JOINING) initializedAt = performance.now();
    if (!mine.every(usable)) return undefined;
    readyAt = performance.now();
    return mine;
  });
  // Every Node is the instance of its name, with that instance's private IP.
  for (const n of joined) {
    const inst = sim.db.instances.find((i) => i.name === n.metadata?.name);
    assert.equal(n.spec?.providerID, `oxide://${inst?.id}`);
    const provided = nodeIP.get(n.metadata?.name ?? '');
    if (provided) {
      assert.deepEqual(n.status?.addresses, [
        { type: 'InternalIP', address: provided },
        { type: 'Hostname', address: n.metadata?.name },
      ]);
    } else assert.ok(n.status?.addresses?.some((a) => a.type === 'InternalIP'));
  }
  report(t, {
    [`registration of ${JOINING} Nodes`]: registered - t0,
    'registration → all initialized (CCM)': (initializedAt || readyAt) - t0,
    'registration → all Ready without not-ready taint (kwok + KCM)': readyAt - t0,
  });
  await removeNodes(joinNames);
  await until('joined Nodes deleted and their routes removed', async () => {
    const list = await kube.get<{ items: V1Node[] }>('/api/v1/nodes');
    const router = sim.db.routers.find((r) => r.name === ROUTER);
    const left = sim.db.routes.filter(
      (r) => r.vpcRouterId === router?.id && r.name.startsWith(`${CLUSTER}-`),
    );
    return list.items.every((n) => !n.metadata?.name?.startsWith('join-')) && left.length === 0;
  });
});

test('2: a Node stops heartbeating; KCM marks it NotReady and its LoadBalancer fails over', async (t) => {
  await joinNodes(t, ['fo-a', 'fo-b']);
  const ns = await namespace('failover');
  await createLoadBalancer(kube, ns, 'web');
  const holder = await until('floating IP attached', () => fipHolder(ns, 'web'));
  const other = holder === 'fo-a' ? 'fo-b' : 'fo-a';

  const stopped = Date.now();
  await stopHeartbeats(kube, holder);
  const notReady = await until(`${holder} NotReady (KCM)`, async () => {
    const n = await getNode(holder);
    return ready(n) !== 'True' ? n : undefined;
  });
  const notReadyAt = Date.now();
  // kwok has let go of the Lease by now: its renewTime is the last heartbeat.
  const renew = (await nodeLease(kube, holder))?.spec?.renewTime;
  assert.ok(renew, 'the Node had a Lease');
  const lastBeat = new Date(renew).getTime();
  await until(`floating IP moved from ${holder} to ${other}`, () => fipHolder(ns, 'web') === other);
  const movedAt = Date.now();
  const tainted = await until(`${holder} tainted unreachable (KCM)`, async () => {
    const n = await getNode(holder);
    return taintKeys(n).includes(TAINT_UNREACHABLE) ? n : undefined;
  });
  assert.equal(ready(notReady), 'Unknown', 'KCM says Unknown: the kubelet stopped posting');
  assert.ok(taintKeys(tainted).includes(TAINT_UNREACHABLE));
  report(t, {
    'heartbeats stopped → KCM NotReady (grace 12 s)': notReadyAt - stopped,
    'last heartbeat → NotReady': notReadyAt - lastBeat,
    'NotReady → floating IP on the other instance': movedAt - notReadyAt,
    'last heartbeat → floating IP on the other instance (end to end)': movedAt - lastBeat,
  });

  // The kubelet comes back: kwok reposts Ready, KCM lifts the taints.
  await startHeartbeats(kube, holder);
  await until(`${holder} usable again`, async () => {
    const n = await getNode(holder);
    return usable(n) && !taintKeys(n).includes(TAINT_UNREACHABLE);
  });
  await kube.delete(`/api/v1/namespaces/${ns}/services/web`);
  await until('Service gone with its floating IP', () => !fipOf(ns, 'web'));
});

test('3: externalTrafficPolicy Local follows pods scheduled by kube-scheduler, EndpointSlices by KCM', async (t) => {
  await joinNodes(t, ['loc-a', 'loc-b']);
  const ns = await namespace('local');
  await until('default ServiceAccount (KCM)', () =>
    kube.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`).then(() => true),
  );
  const t0 = performance.now();
  await kube.post(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            { name: 'web', image: 'registry.invalid/web:1', ports: [{ containerPort: 8080 }] },
          ],
        },
      },
    },
  });
  await createLoadBalancer(kube, ns, 'web', { externalTrafficPolicy: 'Local' });
  const servingNode = async (): Promise<string | undefined> => {
    const slices = await kube.get<V1EndpointSliceList>(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      { query: { labelSelector: 'kubernetes.io/service-name=web' } },
    );
    const eps = slices.items
      .filter(
        (s) =>
          s.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'] ===
          'endpointslice-controller.k8s.io',
      )
      .flatMap((s) => s.endpoints)
      .filter((e) => e?.conditions?.ready);
    return eps.length === 1 ? (eps[0]?.nodeName ?? undefined) : undefined;
  };
  const first = await until('one ready endpoint (scheduler + kwok + KCM)', servingNode);
  const endpointAt = performance.now();
  await until(`floating IP on ${first}`, () => fipHolder(ns, 'web') === first);
  const attachedAt = performance.now();

  // Drain the Node: cordon, delete the pod; the ReplicaSet replaces it on the other Node.
  const second = first === 'loc-a' ? 'loc-b' : 'loc-a';
  await kube.patch(`/api/v1/nodes/${first}`, 'merge', { spec: { unschedulable: true } });
  const pods = await kube.get<V1PodList>(`/api/v1/namespaces/${ns}/pods`);
  const moveStart = performance.now();
  await Promise.all(
    pods.items.map((p) => kube.delete(`/api/v1/namespaces/${ns}/pods/${p.metadata?.name}`)),
  );
  await until(`endpoint on ${second}`, async () => (await servingNode()) === second);
  const movedEndpointAt = performance.now();
  await until(`floating IP follows to ${second}`, () => fipHolder(ns, 'web') === second);
  const followedAt = performance.now();
  // Both pods were bound by kube-scheduler, not by anything in this test.
  const scheduled = await until('two Scheduled events from kube-scheduler', async () => {
    const list = await kube.get<CoreV1EventList>(`/api/v1/namespaces/${ns}/events`, {
      query: { fieldSelector: 'reason=Scheduled' },
    });
    const ours = list.items.filter(
      (e) => (e.reportingComponent ?? e.source?.component) === 'default-scheduler',
    );
    return ours.length >= 2 ? ours : undefined;
  });
  assert.deepEqual(
    scheduled
      .map((e) => /assigned \S+ to (\S+)/.exec(e.message ?? '')?.[1] ?? '')
      .sort((a, b) => a.localeCompare(b)),
    [first, second].sort((a, b) => a.localeCompare(b)),
  );
  report(t, {
    'Deployment + Service → ready endpoint': endpointAt - t0,
    'ready endpoint → floating IP on its Node': attachedAt - endpointAt,
    'pod deleted → new endpoint on the other Node': movedEndpointAt - moveStart,
    'new endpoint → floating IP follows': followedAt - movedEndpointAt,
  });

  await kube.delete(`/api/v1/namespaces/${ns}/services/web`);
  await until('Service gone with its floating IP', () => !fipOf(ns, 'web'));
  await kube.delete(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
});

test('4: pod CIDRs from KCM node IPAM become routes; Node deleted → route removed; missing transit_ips → Warning', async (t) => {
  t.after(() => removeNodes(['rt-ok', 'rt-bare']));
  const t0 = performance.now();
  await Promise.all(['rt-ok', 'rt-bare'].map((n) => registerKwokNode(kube, n)));
  const cidrOf = async (name: string): Promise<string | undefined> =>
    (await getNode(name)).spec?.podCIDRs?.[0];
  const okCIDR = await until('rt-ok pod CIDR (KCM)', () => cidrOf('rt-ok'));
  const bareCIDR = await until('rt-bare pod CIDR (KCM)', () => cidrOf('rt-bare'));
  const cidrAt = performance.now();
  const routeTo = (inst: string) => {
    const router = sim.db.routers.find((r) => r.name === ROUTER);
    return sim.db.routes.find(
      (r) =>
        r.vpcRouterId === router?.id && r.target.type === 'instance' && r.target.value === inst,
    );
  };
  const okRoute = await until('route to rt-ok', () => routeTo('rt-ok'));
  assert.deepEqual(okRoute.destination, { type: 'ip_net', value: okCIDR });
  const bareRoute = await until('route to rt-bare', () => routeTo('rt-bare'));
  assert.deepEqual(bareRoute.destination, { type: 'ip_net', value: bareCIDR });
  const routedAt = performance.now();
  const warning = await until('TransitIPsMissing Warning on rt-bare', async () => {
    const list = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
      query: { fieldSelector: 'involvedObject.name=rt-bare,reason=TransitIPsMissing' },
    });
    return list.items.find((e) => e.type === 'Warning');
  });
  assert.match(warning.message ?? '', new RegExp(bareCIDR.replace(/[./]/g, '\\$&')));
  await until('NetworkUnavailable False on rt-ok', async () => {
    const n = await getNode('rt-ok');
    return n.status?.conditions?.find((c) => c.type === 'NetworkUnavailable')?.status === 'False';
  });
  const deleted = performance.now();
  await removeNodes(['rt-ok']);
  await until('route to rt-ok removed', () => !routeTo('rt-ok'));
  const removedAt = performance.now();
  assert.ok(routeTo('rt-bare'), 'the other Node keeps its route');
  report(t, {
    'registration → pod CIDRs (KCM node IPAM)': cidrAt - t0,
    'pod CIDRs → routes on the custom router': routedAt - cidrAt,
    'Node deleted → route removed': removedAt - deleted,
  });
});

test('5: instance stopped → kubelet silent → shutdown taint, Node kept; instance deleted → Node deleted', async (t) => {
  await joinNodes(t, ['life-a']);
  const t0 = performance.now();
  // The VM stops and its kubelet with it.
  sim.db.setRunState('life-a', 'stopped');
  await stopHeartbeats(kube, 'life-a');
  const shut = await until('shutdown taint (CCM node lifecycle)', async () => {
    const n = await getNode('life-a');
    return taintKeys(n).includes(TAINT_SHUTDOWN) ? n : undefined;
  });
  const taintedAt = performance.now();
  assert.notEqual(ready(shut), 'True');
  // Tainting is the decision for a stopped instance; the Node must still be there after it.
  assert.ok(await getNode('life-a'));
  sim.db.deleteInstance('life-a');
  const deletedInstance = performance.now();
  await until('Node deleted (CCM node lifecycle)', () =>
    getNode('life-a').then(
      () => false,
      () => true,
    ),
  );
  report(t, {
    'instance stopped → shutdown taint (incl. 12 s grace)': taintedAt - t0,
    'instance deleted → Node deleted': performance.now() - deletedInstance,
  });
});
