// The controllers this build has, one entry each, as upstream's controller initializers
// (k8s.io/cloud-provider app/controllermanager.go, DefaultInitFuncConstructors): the names
// --controllers accepts (names.ts; selection in config/controllers.ts), the provider capability
// the controller drives, the flags that keep it off, and its constructor. The informers a
// controller reads it asks ctx.informers for while it is constructed; they start after all are.
// A new controller is one name in names.ts and one entry here.
import type { CloudProvider } from '../cloud/provider.ts';
import type { CcmOptions } from '../config/options.ts';
import type { LogFields } from '../log.ts';
import {
  NODE_CONTROLLER,
  NODE_LIFECYCLE_CONTROLLER,
  ROUTE_CONTROLLER,
  SERVICE_CONTROLLER,
} from '../names.ts';
import type { ControllerName } from '../names.ts';
import type { Controller, ControllerContext } from './controller.ts';
import { NodeLifecycleController } from './node-lifecycle/controller.ts';
import { NodeController } from './node/controller.ts';
import { RouteController } from './route/controller.ts';
import { ServiceController } from './service/controller.ts';
import { FAILOVER_SIGNALS } from '../config/failover-signals.ts';
import type { FailoverOptions } from './service/failover/failover.ts';

/** Upstream's service controller resyncs every load balancer against the Nodes this often. */
const SERVICE_NODE_SYNC_PERIOD_MS = 100_000;

/** --lb-failover and its thresholds (validated: only known signal names, or none). */
function failoverOptions(options: CcmOptions): FailoverOptions {
  return {
    signals: new Set(FAILOVER_SIGNALS.filter((s) => options.lbFailover.includes(s))),
    healthCheckPort: options.lbHealthCheckPort,
    healthCheckIntervalMs: options.lbHealthCheckIntervalMs,
    healthCheckTimeoutMs: options.lbHealthCheckTimeoutMs,
    healthCheckFailures: options.lbHealthCheckFailures,
    leaseStaleAfterMs: options.lbLeaseStaleAfterMs,
    instancePollMs: options.lbInstancePollPeriodMs,
    settleMs: options.lbFailoverSettleTimeMs,
  };
}

/** A part of the provider contract; a provider without it gets no controller that drives it. */
type Capability = 'instances' | 'loadBalancer' | 'routes';

const CAPABILITY_NOUN: Record<Capability, string> = {
  instances: 'instances',
  loadBalancer: 'load balancers',
  routes: 'routes',
};

const hasCapability = (cloud: CloudProvider, capability: Capability): boolean => {
  switch (capability) {
    case 'instances':
      return cloud.instances() !== undefined;
    case 'loadBalancer':
      return cloud.loadBalancer() !== undefined;
    case 'routes':
      return cloud.routes() !== undefined;
  }
};

/** Flags that keep an enabled controller off: what to log (at info) and the flags' values. */
interface FlagGate {
  message: string;
  fields: LogFields;
}

export interface ControllerInitializer {
  readonly name: ControllerName;
  readonly needs: Capability;
  /** Undefined when the flags let the controller run. */
  readonly offByFlags?: (options: CcmOptions) => FlagGate | undefined;
  readonly construct: (ctx: ControllerContext, options: CcmOptions) => Controller;
}

export const CONTROLLER_INITIALIZERS: readonly ControllerInitializer[] = [
  {
    name: NODE_CONTROLLER,
    needs: 'instances',
    construct: (ctx, options) =>
      new NodeController(ctx, {
        workers: options.concurrentNodeSyncs,
        statusUpdateFrequencyMs: options.nodeStatusUpdateFrequencyMs,
      }),
  },
  {
    name: NODE_LIFECYCLE_CONTROLLER,
    needs: 'instances',
    construct: (ctx, options) =>
      new NodeLifecycleController(ctx, { monitorPeriodMs: options.nodeMonitorPeriodMs }),
  },
  {
    name: SERVICE_CONTROLLER,
    needs: 'loadBalancer',
    construct: (ctx, options) =>
      new ServiceController(ctx, {
        workers: options.concurrentServiceSyncs,
        nodeSyncPeriodMs: SERVICE_NODE_SYNC_PERIOD_MS,
        failover: failoverOptions(options),
      }),
  },
  {
    name: ROUTE_CONTROLLER,
    needs: 'routes',
    // Upstream's rule: routes only when Pod CIDRs are allocated and routes are wanted.
    offByFlags: (options) =>
      options.allocateNodeCidrs && options.configureCloudRoutes
        ? undefined
        : {
            message: 'will not configure cloud provider routes',
            fields: {
              allocateNodeCidrs: options.allocateNodeCidrs,
              configureCloudRoutes: options.configureCloudRoutes,
            },
          },
    construct: (ctx, options) =>
      new RouteController(ctx, {
        clusterCIDRs: options.clusterCidr
          .split(',')
          .map((c) => c.trim())
          .filter((c) => c !== ''),
        periodMs: options.routeReconciliationPeriodMs,
      }),
  },
];

/**
 * Constructs the enabled controllers whose flags and provider let them run; logs why any other
 * enabled one does not. contextFor gives each controller its context: in the program, each gets
 * its own Kubernetes client and so its own --kube-api-qps budget, as upstream's per-controller
 * clients do, so a burst in one controller (200 Services) does not starve another (Node
 * initialization).
 */
export function buildControllers(
  contextFor: (name: ControllerName) => ControllerContext,
  options: CcmOptions,
  enabled: readonly ControllerName[],
): Controller[] {
  const controllers: Controller[] = [];
  for (const name of enabled) {
    const init = CONTROLLER_INITIALIZERS.find((i) => i.name === name);
    if (!init) throw new Error(`no initializer for controller ${name.name}`);
    const ctx = contextFor(name);
    const gate = init.offByFlags?.(options);
    if (gate) {
      ctx.log.info({ controller: name.name, ...gate.fields }, gate.message);
    } else if (!hasCapability(ctx.cloud, init.needs)) {
      ctx.log.warn(
        { controller: name.name },
        `provider has no ${CAPABILITY_NOUN[init.needs]}; not starting`,
      );
    } else {
      controllers.push(init.construct(ctx, options));
    }
  }
  return controllers;
}
