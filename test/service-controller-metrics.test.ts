// The service controller's upstream metrics (service_controller_*), against a real kube-apiserver
// and the fake cloud: every updateLoadBalancer call counts as a load-balancer sync with its
// latency, a failed one as a node-sync error, and each sweep over all Services (start, Node
// change, periodic) is one node sync once every Service it queued was reconciled. Each test file
// runs in its own process, so the registry holds only this file's samples.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServiceController } from '../src/controllers/service/controller.ts';
import { registry } from '../src/metrics-registry.ts';
import { FakeCloud } from './fake/cloud.ts';
import { testContext, waitFor } from './harness/context.ts';
import { testKube, uniqueName } from './harness/kube.ts';
import { createKubeletNode, deleteNode, setNodeReady } from './harness/nodes.ts';

/** The value of one series (`family` + `suffix`, e.g. `_count` or `{name="service"}`). */
async function value(family: string, suffix = ''): Promise<number> {
  const text = await registry.getSingleMetricAsString(family);
  const line = text.split('\n').find((l) => l.startsWith(`${family}${suffix} `));
  return Number(line?.split(' ')[1] ?? 0);
}

test('service_controller_* follow updateLoadBalancer calls and sweeps', async () => {
  const { client: kube } = await testKube();
  const ns = uniqueName('svcm');
  await kube.post('/api/v1/namespaces', { metadata: { name: ns } });
  const cloud = new FakeCloud();
  const ctx = testContext(kube, cloud, 'test', kube, { namespace: ns });
  const { informers } = ctx;
  const controller = new ServiceController(ctx, {
    workers: 1,
    nodeSyncPeriodMs: 300,
    nodeSyncDebounceMs: 20,
    retryBaseMs: 100,
    retryMaxMs: 200,
  });
  const node = uniqueName('svcm-node');
  await createKubeletNode(kube, node, { initialized: true, providerID: `fake://${node}` });
  await setNodeReady(kube, node, true, [{ type: 'InternalIP', address: '10.7.0.1' }]);
  const abort = new AbortController();
  informers.start(abort.signal);
  const running = controller.run(abort.signal);
  try {
    await kube.post(`/api/v1/namespaces/${ns}/services`, {
      metadata: { name: 'web' },
      spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] },
    });
    await waitFor('ensured', () => cloud.callsOf('ensureLoadBalancer').length > 0);
    // Periodic sweeps (300 ms) call updateLoadBalancer; make one fail.
    await waitFor('an update', () => cloud.callsOf('updateLoadBalancer').length > 0);
    cloud.failNext('updateLoadBalancer', new Error('injected'));
    await waitFor('a failed and a later update', async () => {
      return (await value('service_controller_nodesync_error_total')) >= 1 &&
        cloud.callsOf('updateLoadBalancer').length >= 3
        ? true
        : undefined;
    });
  } finally {
    abort.abort();
    await running;
    await informers.stopped();
    await deleteNode(kube, node);
    await kube.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
  const updates = cloud.callsOf('updateLoadBalancer').length;
  assert.equal(await value('service_controller_loadbalancer_sync_total'), updates);
  assert.equal(
    await value('service_controller_update_loadbalancer_host_latency_seconds', '_count'),
    updates,
  );
  assert.equal(await value('service_controller_nodesync_error_total'), 1);
  // The start-up sweep and at least two periodic ones finished.
  assert.ok((await value('service_controller_nodesync_latency_seconds', '_count')) >= 3);
  assert.ok(
    (await value('workqueue_adds_total', '{name="service"}')) > 0,
    'the service queue is named "service", as upstream',
  );
});
