// Scrape-time counts of the objects the controllers own, read from their informers' caches: the
// dashboard's Nodes and Services panels and the alerts on Nodes left uninitialized and Services
// left without an address, without kube-state-metrics. Counted at scrape time, so nothing runs
// between scrapes. Only the leader runs controllers, so a standby reports no series.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { TAINT_UNINITIALIZED, hasTaint } from '../kube/well-known.ts';

type Counter = () => Record<string, number>;

function stateGauge(name: string, help: string, sources: Set<Counter>): Gauge {
  return new Gauge({
    name,
    help,
    labelNames: ['state'],
    registers: [],
    collect(): void {
      this.reset();
      for (const count of sources) {
        for (const [state, n] of Object.entries(count())) this.inc({ state }, n);
      }
    },
  });
}

const nodeSources = new Set<Counter>();
const serviceSources = new Set<Counter>();

export const stateMetrics = {
  nodes: stateGauge(
    'oxide_ccm_nodes',
    'Nodes by state: initialized, or uninitialized (still tainted node.cloudprovider.kubernetes.io/uninitialized). Reported by the leader.',
    nodeSources,
  ),
  loadBalancerServices: stateGauge(
    'oxide_ccm_load_balancer_services',
    'LoadBalancer Services this CCM serves by state: ingress (status.loadBalancer.ingress set), or pending (none yet). Reported by the leader.',
    serviceSources,
  ),
};

/** The gauges above, into the process's registry (called once, at the composition root). */
export function registerStateMetrics(registry: Registry): void {
  for (const metric of Object.values(stateMetrics)) registry.registerMetric(metric);
}

/** Both states are always reported, so `state="uninitialized"` reads 0, not absent, when none is. */
export function countNodes(nodes: readonly V1Node[]): Record<string, number> {
  let uninitialized = 0;
  for (const node of nodes) if (hasTaint(node, TAINT_UNINITIALIZED)) uninitialized += 1;
  return { initialized: nodes.length - uninitialized, uninitialized };
}

export function countServices(services: readonly V1Service[]): Record<string, number> {
  let ingress = 0;
  for (const svc of services)
    if ((svc.status?.loadBalancer?.ingress ?? []).length > 0) ingress += 1;
  return { ingress, pending: services.length - ingress };
}

/** Reports `count` under the gauge until `signal` aborts (the controller stops). */
export function reportNodes(count: Counter, signal: AbortSignal): void {
  report(nodeSources, count, signal);
}

export function reportServices(count: Counter, signal: AbortSignal): void {
  report(serviceSources, count, signal);
}

function report(sources: Set<Counter>, count: Counter, signal: AbortSignal): void {
  if (signal.aborted) return;
  sources.add(count);
  signal.addEventListener('abort', () => sources.delete(count), { once: true });
}
