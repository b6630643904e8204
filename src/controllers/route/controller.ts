// node-route-controller: keeps the cloud's routes equal to the Nodes' pod CIDRs, as
// k8s.io/cloud-provider's route controller does. Every period and shortly after a Node is added,
// deleted or gets pod CIDRs: list the cluster's routes, delete blackholes and routes inside the
// cluster CIDRs that no Node claims, create the missing ones, and set each Node's
// NetworkUnavailable condition from the outcome; deletes, creates and condition writes each run
// at most `workers` at a time.
import type { V1Node, V1NodeCondition } from '@kubernetes/client-node';
import type { Route, Routes } from '../../cloud/provider.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { NODE_KIND } from '../../kube/events.ts';
import type { Informer } from '../../kube/informer.ts';
import type { Logger } from '../../log.ts';
import { ROUTE_CONTROLLER } from '../../names.ts';
import { mapConcurrent, sleep } from '../../util/async.ts';
import type { Controller, ControllerContext } from '../controller.ts';
import { errorMessage } from '../runner.ts';
import { withinAny } from '../../net/cidr.ts';

export interface RouteControllerOptions {
  /** --cluster-cidr, one CIDR per family. */
  clusterCIDRs: string[];
  /** --route-reconciliation-period, in ms. */
  periodMs: number;
  /** Concurrent route creations and deletions, and concurrent Node condition writes; default 16. */
  workers?: number;
}

export const CONDITION_NETWORK_UNAVAILABLE = 'NetworkUnavailable';
/** Node changes within this window cost one reconcile. */
const DEBOUNCE_MS = 100;

const routeKey = (nodeName: string, cidr: string): string => `${nodeName}\u0000${cidr}`;

/** spec.podCIDRs, or the single spec.podCIDR of older Nodes. */
export function podCIDRs(node: V1Node): string[] {
  const cidrs = node.spec?.podCIDRs ?? [];
  if (cidrs.length > 0) return cidrs;
  return node.spec?.podCIDR ? [node.spec.podCIDR] : [];
}

export class RouteController implements Controller {
  readonly name = ROUTE_CONTROLLER;
  private readonly ctx: ControllerContext;
  private readonly routes: Routes;
  private readonly clusterCIDRs: string[];
  private readonly periodMs: number;
  /**
   * Route deletions, route creations and NetworkUnavailable writes each run at most this many at
   * a time (1000 Nodes changing at once are not 1000 requests at once).
   */
  private readonly concurrency: number;
  private readonly nodes: Informer<V1Node>;
  private readonly recorder: EventRecorder;
  private readonly log: Logger;
  private wake: (() => void) | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(ctx: ControllerContext, options: RouteControllerOptions) {
    const routes = ctx.cloud.routes();
    if (!routes) throw new Error(`${ROUTE_CONTROLLER.name} needs a cloud provider with routes`);
    if (options.clusterCIDRs.length === 0) {
      throw new Error(`${ROUTE_CONTROLLER.name} needs --cluster-cidr`);
    }
    this.ctx = ctx;
    this.routes = routes;
    this.clusterCIDRs = options.clusterCIDRs;
    this.periodMs = options.periodMs;
    this.concurrency = Math.max(1, options.workers ?? 16);
    this.nodes = ctx.informers.nodes();
    this.recorder = ctx.recorder(ROUTE_CONTROLLER.eventSource, NODE_KIND);
    this.log = ctx.log.child({ controller: ROUTE_CONTROLLER.name });
    this.nodes.addHandlers({
      add: () => this.trigger(),
      delete: () => this.trigger(),
      update: (old, cur) => {
        if (podCIDRs(old).join(',') !== podCIDRs(cur).join(',')) this.trigger();
      },
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.nodes.waitForSync(signal).catch(() => undefined);
    while (!signal.aborted) {
      const woken = new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      try {
        await this.reconcile(signal);
      } catch (err) {
        if (signal.aborted) break;
        this.log.error({ err: errorMessage(err) }, 'route reconciliation failed');
      }
      await Promise.race([sleep(this.periodMs, signal), woken]);
    }
    clearTimeout(this.debounce);
  }

  /**
   * One pass; exported for tests and callers that need a synchronous reconcile. `signal` aborts
   * its requests in flight and ends the pass before it writes any Node condition.
   */
  async reconcile(signal?: AbortSignal): Promise<void> {
    const clusterName = this.ctx.clusterName;
    const nodes = this.nodes.list();
    const wanted = new Map<string, { node: V1Node; cidr: string }>();
    for (const node of nodes) {
      const name = node.metadata?.name ?? '';
      for (const cidr of podCIDRs(node)) {
        if (withinAny(this.clusterCIDRs, cidr)) wanted.set(routeKey(name, cidr), { node, cidr });
      }
    }
    const existing = await this.routes.listRoutes(clusterName, signal);
    const present = new Set<string>();
    const stale: Route[] = [];
    for (const route of existing) {
      const key = routeKey(route.targetNode, route.destinationCIDR);
      if (route.blackhole) stale.push(route);
      else if (wanted.has(key)) present.add(key);
      else if (withinAny(this.clusterCIDRs, route.destinationCIDR)) stale.push(route);
    }
    // delete, create and updateCondition catch their own errors (logged, evented, or a failed
    // create recorded), so one item's failure never stops a pool from taking the rest.
    await mapConcurrent(stale, this.concurrency, (route) =>
      this.delete(clusterName, route, signal),
    );
    signal?.throwIfAborted();

    const failed = new Set<string>();
    const missing = [...wanted].filter(([key]) => !present.has(key)).map(([, want]) => want);
    await mapConcurrent(missing, this.concurrency, async ({ node, cidr }) => {
      if (!(await this.create(clusterName, node, cidr, signal))) {
        failed.add(node.metadata?.name ?? '');
      }
    });
    this.reportWarnings(nodes);
    // An aborted create is no failed create: no Node may be marked NetworkUnavailable for it.
    signal?.throwIfAborted();

    const routed = nodes.filter((node) => podCIDRs(node).length > 0);
    await mapConcurrent(routed, this.concurrency, (node) =>
      this.updateCondition(node, !failed.has(node.metadata?.name ?? ''), signal),
    );
  }

  private trigger(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.wake?.();
    }, DEBOUNCE_MS);
  }

  private async delete(
    clusterName: string,
    route: Route,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    try {
      await this.routes.deleteRoute(clusterName, route, signal);
      this.log.info(
        { route: route.name, node: route.targetNode, cidr: route.destinationCIDR },
        route.blackhole ? 'deleted blackhole route' : 'deleted route no Node claims',
      );
    } catch (err) {
      this.log.error({ route: route.name, err: errorMessage(err) }, 'could not delete route');
    }
  }

  private async create(
    clusterName: string,
    node: V1Node,
    cidr: string,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const nodeName = node.metadata?.name ?? '';
    const route: Route = {
      name: '',
      targetNode: nodeName,
      destinationCIDR: cidr,
      blackhole: false,
      ...(node.spec?.providerID ? { targetProviderID: node.spec.providerID } : {}),
    };
    try {
      await this.routes.createRoute(clusterName, node.metadata?.uid ?? nodeName, route, signal);
      this.log.info({ node: nodeName, cidr }, 'created route');
      return true;
    } catch (err) {
      if (signal?.aborted) throw err;
      const message = `Could not create route for pod CIDR ${cidr}: ${errorMessage(err)}`;
      this.log.error({ node: nodeName, cidr, err: errorMessage(err) }, 'could not create route');
      this.recorder.event(node, 'Warning', 'FailedToCreateRoute', message);
      return false;
    }
  }

  private reportWarnings(nodes: readonly V1Node[]): void {
    for (const warning of this.routes.takeRouteWarnings?.() ?? []) {
      this.log.warn({ node: warning.nodeName, reason: warning.reason }, warning.message);
      const node = nodes.find((n) => n.metadata?.name === warning.nodeName);
      if (node) this.recorder.event(node, 'Warning', warning.reason, warning.message);
    }
  }

  /** Writes NetworkUnavailable only when its status would change, as upstream does. */
  private async updateCondition(
    node: V1Node,
    routesCreated: boolean,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const current = (node.status?.conditions ?? []).find(
      (c) => c.type === CONDITION_NETWORK_UNAVAILABLE,
    );
    const status = routesCreated ? 'False' : 'True';
    if (current?.status === status) return;
    const now = new Date();
    const condition: V1NodeCondition = {
      type: CONDITION_NETWORK_UNAVAILABLE,
      status,
      reason: routesCreated ? 'RouteCreated' : 'NoRouteCreated',
      message: routesCreated
        ? 'RouteController created a route'
        : 'RouteController failed to create a route',
      lastTransitionTime: now,
      lastHeartbeatTime: now,
    };
    const name = node.metadata?.name ?? '';
    try {
      await this.ctx.kube.patch(
        `/api/v1/nodes/${encodeURIComponent(name)}/status`,
        'strategic',
        { status: { conditions: [condition] } },
        { signal },
      );
    } catch (err) {
      this.log.error({ node: name, err: errorMessage(err) }, 'could not update NetworkUnavailable');
    }
  }
}
