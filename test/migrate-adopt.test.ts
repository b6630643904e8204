// Switching from the Go CCM v0.7.1 changes nothing the Go CCM left: Nodes it initialized, the
// floating IPs it created for LoadBalancer Services and those Services' status are adopted as
// they are. The state below is built from what the Go CCM does (not by running ours first):
//   Node      providerID oxide://<instance id>; node.kubernetes.io/instance-type and the beta
//             label <ncpus>-<GiB>; addresses Hostname, then InternalIP per NIC, then ExternalIP
//             per ephemeral/floating address (SNAT skipped); no uninitialized taint.
//   FIP       named <cluster>-<namespace>-<name>, description "Managed by
//             oxide-cloud-controller-manager.", attached to the first Node by name (every one).
//   Service   finalizer service.kubernetes.io/load-balancer-cleanup; status ingress: the FIP with
//             ipMode Proxy, then each InternalIP of the Node it is attached to.
// Then the whole CCM starts (every controller, as the manifest runs it, against a simulator
// acting as an Oxide release 20 rack) and, once each
// controller has reconciled everything, the test counts Oxide writes and object changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { ExternalIp, FloatingIp, Instance, InstanceNetworkInterface } from '@oxide/api';
import { fetch } from 'undici';
import { startSimulator } from '../sim/server.ts';
import { runApp } from '../src/app.ts';
import { defaultOptions } from '../src/config/options.ts';
import { resolveControllers } from '../src/config/controllers.ts';
import { silentLogger } from '../src/log.ts';
import { reconcileMetrics } from '../src/controllers/metrics.ts';
import { API_VERSION } from '../src/oxide/api-version.ts';
import { OxideClient } from '../src/oxide/client.ts';
import { waitFor } from './harness/context.ts';
import { testKube } from './harness/kube.ts';
import { freePort } from './harness/ports.ts';
import { listInstanceExternalIps, listInstances } from '../src/oxide/instances.ts';
import { listInstanceNics } from '../src/oxide/network-interfaces.ts';

const CLUSTER = 'prod';
const NS = 'shop';
const NODES = ['node-a', 'node-b', 'node-c'];
const SERVICES = ['web', 'api'];
const GiB = 1024 ** 3;

function goAddresses(instance: Instance, nics: InstanceNetworkInterface[], ips: ExternalIp[]) {
  const internal = nics.flatMap((nic) =>
    nic.ipStack.type === 'dual_stack'
      ? [nic.ipStack.value.v4.ip, nic.ipStack.value.v6.ip]
      : [nic.ipStack.value.ip],
  );
  return [
    { type: 'Hostname', address: instance.hostname },
    ...internal.map((address) => ({ type: 'InternalIP', address })),
    ...ips.filter((ip) => ip.kind !== 'snat').map((ip) => ({ type: 'ExternalIP', address: ip.ip })),
  ];
}

async function reconciled(controller: string): Promise<number> {
  const got = await reconcileMetrics.total.get();
  return got.values
    .filter((v) => v.labels['controller'] === controller && v.labels['result'] === 'success')
    .reduce((sum, v) => sum + v.value, 0);
}

test('Nodes, floating IPs and Service status left by the Go CCM: adopted with no change but one ownership claim per floating IP', async () => {
  const { client: kube, kubeconfig } = await testKube({ dedicated: true });
  // A rack on Oxide release 20, the oldest the Go CCM v0.7.1 supports.
  const sim = await startSimulator({
    apiVersion: API_VERSION,
    seed: {
      project: 'k8s',
      instances: NODES.map((name) => ({ name, ncpus: 2, memoryGiB: 8, ephemeralIp: 'auto' })),
      floatingIps: SERVICES.map((svc) => ({
        name: `${CLUSTER}-${NS}-${svc}`,
        description: 'Managed by oxide-cloud-controller-manager.',
        instance: 'node-a',
      })),
    },
  });
  const oxide = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
  const port = await freePort();
  const stop = new AbortController();
  let exited: Promise<number> | undefined;
  try {
    // The Go CCM's Nodes.
    const instances = await listInstances(oxide);
    const nodeA = { internal: [] as string[] };
    for (const name of NODES) {
      const instance = instances.find((i) => i.name === name);
      assert.ok(instance);
      const addresses = goAddresses(
        instance,
        await listInstanceNics(oxide, instance.id),
        await listInstanceExternalIps(oxide, instance.id),
      );
      if (name === 'node-a')
        nodeA.internal = addresses.filter((a) => a.type === 'InternalIP').map((a) => a.address);
      const type = `${instance.ncpus}-${Math.floor(instance.memory / GiB)}`;
      await kube.post<V1Node>('/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          labels: {
            'kubernetes.io/hostname': name,
            'node.kubernetes.io/instance-type': type,
            'beta.kubernetes.io/instance-type': type,
          },
        },
        spec: { providerID: `oxide://${instance.id}` },
        status: {
          addresses,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              message: 'kubelet is posting ready status',
              lastHeartbeatTime: new Date(),
              lastTransitionTime: new Date(),
            },
          ],
        },
      });
    }
    // The Go CCM's Services.
    const fips = await oxide.listAll<FloatingIp>('floating_ip_list', (api, pageToken, limit, p) =>
      api.methods.floatingIpList({ query: { project: sim.project, limit, pageToken } }, p),
    );
    await kube.post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
    for (const svc of SERVICES) {
      const fip = fips.find((f) => f.name === `${CLUSTER}-${NS}-${svc}`);
      assert.ok(fip?.instanceId);
      await kube.post(`/api/v1/namespaces/${NS}/services`, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: svc, finalizers: ['service.kubernetes.io/load-balancer-cleanup'] },
        spec: {
          type: 'LoadBalancer',
          selector: { app: svc },
          ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
        },
      });
      await kube.patch(`/api/v1/namespaces/${NS}/services/${svc}/status`, 'merge', {
        status: {
          loadBalancer: {
            ingress: [{ ip: fip.ip, ipMode: 'Proxy' }, ...nodeA.internal.map((ip) => ({ ip }))],
          },
        },
      });
    }
    const before = {
      nodes: await Promise.all(NODES.map((n) => kube.get<V1Node>(`/api/v1/nodes/${n}`))),
      services: await Promise.all(
        SERVICES.map((s) => kube.get<V1Service>(`/api/v1/namespaces/${NS}/services/${s}`)),
      ),
    };
    const counted = {
      service: await reconciled('service-lb-controller'),
      node: await reconciled('cloud-node-controller'),
    };
    sim.requests.reset();

    // Ours, every controller, as the manifest runs it.
    exited = runApp(
      {
        options: {
          ...defaultOptions(),
          cloudProvider: 'oxide',
          kubeconfig,
          clusterName: CLUSTER,
          leaderElect: false,
          bindAddress: '127.0.0.1',
          securePort: port,
          metricsPlainHttp: true,
          // The periodic address refresh of initialized Nodes (where a Node shaped differently
          // from ours would be rewritten) comes after one period: 1 s instead of 5 min.
          nodeStatusUpdateFrequencyMs: 1_000,
        },
        controllers: resolveControllers(['*']).enabled,
        oxide: { host: sim.url, token: sim.token, project: sim.project, region: '', zone: '' },
      },
      silentLogger,
      stop.signal,
    );
    await waitFor(
      'ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
    );
    // Every controller has been through every object once: a write would have happened by now.
    // The Nodes are Ready and untainted, so the lifecycle controller, as upstream's, has nothing
    // to ask the cloud about them and counts no reconcile: it cannot write to them either.
    await waitFor(
      'every Service and Node reconciled',
      async () =>
        (await reconciled('service-lb-controller')) - counted.service >= SERVICES.length &&
        (await reconciled('cloud-node-controller')) - counted.node >= NODES.length,
      60_000,
    ).catch(async (err: unknown) => {
      const now = [
        (await reconciled('service-lb-controller')) - counted.service,
        (await reconciled('cloud-node-controller')) - counted.node,
      ];
      throw new Error(`${String(err)}: reconciled service/node ${now.join('/')}`);
    });

    const writes = sim.requests.entries.filter((e) => e.method !== 'GET');
    console.log(`Oxide requests after the switch: ${JSON.stringify(sim.requests.byOperation())}`);
    // The one write: each Go CCM floating IP is claimed once, by its Service's UID appended to
    // its description (issue 11: ownership a tenant cannot forge). Nothing is created, attached,
    // detached or deleted; name, address and instance stay (checked below).
    assert.deepEqual(
      writes.map((w) => `${w.operationId} ${w.path}`).sort(),
      fips.map((f) => `floating_ip_update /v1/floating-ips/${f.id}`).sort(),
      'Oxide writes: one ownership claim per floating IP, nothing else',
    );
    for (const [i, svc] of before.services.entries()) {
      const now = await kube.get<V1Service>(`/api/v1/namespaces/${NS}/services/${SERVICES[i]}`);
      assert.deepEqual(now.status, svc.status, `${SERVICES[i]} status`);
      assert.equal(
        now.metadata?.resourceVersion,
        svc.metadata?.resourceVersion,
        `${SERVICES[i]} unchanged`,
      );
    }
    for (const [i, node] of before.nodes.entries()) {
      const now = await kube.get<V1Node>(`/api/v1/nodes/${NODES[i]}`);
      assert.equal(
        now.metadata?.resourceVersion,
        node.metadata?.resourceVersion,
        `${NODES[i]} unchanged`,
      );
      assert.equal(now.spec?.providerID, node.spec?.providerID);
      assert.deepEqual(now.spec?.taints ?? [], node.spec?.taints ?? []);
      assert.deepEqual(now.status?.addresses, node.status?.addresses, `${NODES[i]} addresses`);
      assert.deepEqual(now.metadata?.labels, node.metadata?.labels, `${NODES[i]} labels`);
    }
    const fipsAfter = await oxide.listAll<FloatingIp>(
      'floating_ip_list',
      (api, pageToken, limit, p) =>
        api.methods.floatingIpList({ query: { project: sim.project, limit, pageToken } }, p),
    );
    assert.deepEqual(
      fipsAfter.map((f) => [f.name, f.ip, f.instanceId]),
      fips.map((f) => [f.name, f.ip, f.instanceId]),
    );
    for (const [i, f] of fipsAfter.entries()) {
      assert.ok(
        f.description.startsWith('Managed by oxide-cloud-controller-manager. service-uid='),
        `${f.name}: ${f.description}`,
      );
      const svc = before.services.find((s) =>
        f.description.includes(`service-uid=${s.metadata?.uid}`),
      );
      assert.ok(svc, `${f.name} claimed by its own Service (${i})`);
    }
  } finally {
    stop.abort();
    const code = await exited;
    await oxide.close();
    await sim.stop();
    assert.equal(code ?? 0, 0);
  }
});
