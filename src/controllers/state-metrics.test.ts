import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { TAINT_UNINITIALIZED } from '../kube/well-known.ts';
import { registry } from '../metrics-registry.ts';
import { countNodes, countServices, reportNodes, reportServices } from './state-metrics.ts';

const node = (tainted: boolean): V1Node => ({
  spec: { taints: tainted ? [{ key: TAINT_UNINITIALIZED, effect: 'NoSchedule' }] : [] },
});
const service = (ip?: string): V1Service => ({
  spec: { type: 'LoadBalancer' },
  status: { loadBalancer: ip ? { ingress: [{ ip }] } : {} },
});

async function samples(name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, name);
  const { values } = await metric.get();
  return Object.fromEntries(values.map((v) => [String(v.labels['state']), v.value]));
}

test('countNodes: the uninitialized taint decides; both states always present', () => {
  assert.deepEqual(countNodes([]), { initialized: 0, uninitialized: 0 });
  assert.deepEqual(countNodes([node(true), node(false), node(false)]), {
    initialized: 2,
    uninitialized: 1,
  });
});

test('countServices: an ingress entry decides', () => {
  assert.deepEqual(countServices([]), { ingress: 0, pending: 0 });
  assert.deepEqual(countServices([service('192.0.2.1'), service(), service()]), {
    ingress: 1,
    pending: 2,
  });
});

test('the gauges read the sources at scrape time and drop them when the controller stops', async () => {
  const nodes = [node(true)];
  const stop = new AbortController();
  reportNodes(() => countNodes(nodes), stop.signal);
  reportServices(() => countServices([service()]), stop.signal);
  assert.deepEqual(await samples('oxide_ccm_nodes'), { initialized: 0, uninitialized: 1 });
  nodes.push(node(false));
  assert.deepEqual(await samples('oxide_ccm_nodes'), { initialized: 1, uninitialized: 1 });
  assert.deepEqual(await samples('oxide_ccm_load_balancer_services'), { ingress: 0, pending: 1 });
  stop.abort();
  // A standby (or a stopped controller) reports no series at all rather than stale counts.
  assert.deepEqual(await samples('oxide_ccm_nodes'), {});
  assert.deepEqual(await samples('oxide_ccm_load_balancer_services'), {});
});
