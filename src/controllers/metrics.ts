// Metrics every controller shares: k8s.io/controller-manager's running_managed_controllers (set
// by the composition root as it starts and stops controllers) and our reconcile counts and
// latencies (runner.ts, and the node-lifecycle sweep). Each controller's own families are in its
// folder; the composition root registers them all (src/metrics-registry.ts).
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { secondsBuckets } from '../util/buckets.ts';

/** The `manager` label of running_managed_controllers, as upstream's cloud-controller-manager. */
export const MANAGER_NAME = 'cloud-controller-manager';

export const controllerManagerMetrics = {
  running: new Gauge({
    name: 'running_managed_controllers',
    help: 'Indicates where instances of a controller are currently running',
    labelNames: ['name', 'manager'],
    registers: [],
  }),
};

/** Upstream's ControllerStarted/ControllerStopped; name is the controller's --controllers alias. */
export function controllerRunning(name: string, running: boolean): void {
  controllerManagerMetrics.running.set({ name, manager: MANAGER_NAME }, running ? 1 : 0);
}

export const reconcileMetrics = {
  total: new Counter({
    name: 'oxide_ccm_reconcile_total',
    help: 'Reconciles by controller and result (success, error)',
    labelNames: ['controller', 'result'],
    registers: [],
  }),
  duration: new Histogram({
    name: 'oxide_ccm_reconcile_duration_seconds',
    help: 'Reconcile duration by controller',
    labelNames: ['controller'],
    buckets: secondsBuckets,
    registers: [],
  }),
};

/** The families above, into the process's registry (called once, at the composition root). */
export function registerControllerMetrics(registry: Registry): void {
  for (const group of [controllerManagerMetrics, reconcileMetrics])
    for (const metric of Object.values(group)) registry.registerMetric(metric);
}
