// Routes on Oxide: one custom VPC router per cluster (`<cluster>-pods`), attached to the subnets
// of the Nodes' primary NICs, holding one `ip_net` → `instance` route per Node pod CIDR. Custom
// routes cannot go on a VPC's system router, and a subnet has at most one custom router: one that
// is not ours is never replaced. Only routes on our router whose description marks them as ours
// are listed, so the controller can never delete anything it did not create.
import type { Instance, InstanceNetworkInterface, VpcRouter } from '@oxide/api';
import { abandonOn } from '../../util/abort.ts';
import type { OxideClient } from '../../oxide/client.ts';
import { isOxideError } from '../../oxide/errors.ts';
import type { InstanceInventory } from '../../oxide/inventory.ts';
import {
  createRouter,
  createRouterRoute,
  deleteRouterRoute,
  listRouterRoutes,
  listRouters,
} from '../../oxide/routers.ts';
import { attachSubnetRouter, viewSubnet } from '../../oxide/subnets.ts';
import { listVpcs, viewVpcByName } from '../../oxide/vpcs.ts';
import { cidrContains } from '../../net/cidr.ts';
import type { Route, RouteWarning, Routes } from '../provider.ts';
import { parseProviderID } from './provider-id.ts';
import {
  parseRouteDescription,
  routeDescription,
  routeName,
  routerDescription,
  routerName,
} from './routes-names.ts';
import { viewInstanceById, viewInstanceByName } from '../../oxide/instances.ts';

export interface OxideRoutesOptions {
  client: OxideClient;
  inventory: InstanceInventory;
  /** VPC (name) holding the routes; default: the VPCs of the target instances' primary NICs. */
  vpc?: string;
}

const DEFAULT_VPC = 'default';
/** Someone may detach our router; a recheck after this long costs one subnet view. */
const ATTACHMENT_TTL_MS = 60_000;

export class OxideRoutes implements Routes {
  private readonly client: OxideClient;
  private readonly inventory: InstanceInventory;
  private readonly vpcOverride: string | undefined;
  /**
   * VPC ids holding our router: found once per process by listing the project's VPCs (so a
   * restart still sees routes in VPCs other than `default`, even where no Node is left), then
   * learned from the target instances' primary NICs as routes are created.
   */
  private readonly learnedVpcs = new Set<string>();
  private discovered = false;
  private readonly namedVpcIds = new Map<string, string>();
  /** Our router per VPC id, once seen or created. */
  private readonly routers = new Map<string, VpcRouter>();
  /** Subnet id → when we last saw our router attached; rechecked after ATTACHMENT_TTL_MS. */
  private readonly attachedSubnets = new Map<string, number>();
  /**
   * Router creations and subnet attachments under way, by VPC and subnet id: Nodes joining
   * together share one instead of each creating the router (and all but one failing with
   * "already exists") and each viewing and updating the subnet.
   */
  private readonly routerInFlight = new Map<string, Promise<VpcRouter>>();
  private readonly attachInFlight = new Map<string, Promise<void>>();
  /**
   * Route name → router id, for deleteRoute: replaced by each listRoutes, so it holds only the
   * routes that exist now (at most one per Node pod CIDR), never every route ever seen.
   */
  private routeRouter = new Map<string, string>();
  private warnings: RouteWarning[] = [];

  constructor(options: OxideRoutesOptions) {
    this.client = options.client;
    this.inventory = options.inventory;
    this.vpcOverride = options.vpc;
  }

  async listRoutes(clusterName: string, signal?: AbortSignal): Promise<Route[]> {
    const snapshot = await this.inventory.snapshot(signal);
    const routes: Route[] = [];
    const routeRouter = new Map<string, string>();
    for (const vpcId of await this.vpcIds(clusterName, signal)) {
      const router = await this.findRouter(clusterName, vpcId, signal);
      if (!router) continue;
      let listed;
      try {
        listed = await listRouterRoutes(this.client, router.id, signal);
      } catch (err) {
        if (!isOxideError(err, 'not_found')) throw err;
        // Deleted behind our back: no routes, and createRoute recreates the router.
        this.routers.delete(vpcId);
        this.attachedSubnets.clear();
        continue;
      }
      for (const r of listed) {
        const owner = parseRouteDescription(r.description);
        if (!owner || owner.clusterName !== clusterName || r.target.type !== 'instance') continue;
        routeRouter.set(r.name, router.id);
        const target = r.target.value;
        routes.push({
          name: r.name,
          targetNode: owner.nodeName,
          destinationCIDR: r.destination.type === 'ip_net' ? r.destination.value : owner.cidr,
          blackhole: !snapshot.byName(target) && !(await this.instanceExists(target, signal)),
        });
      }
    }
    this.routeRouter = routeRouter;
    return routes;
  }

  async createRoute(
    clusterName: string,
    _nameHint: string,
    route: Route,
    signal?: AbortSignal,
  ): Promise<void> {
    const instance = await this.instanceFor(route.targetNode, route.targetProviderID, signal);
    const nic = (await this.inventory.nics(instance.id, signal)).find((n) => n.primary);
    if (!nic) throw new Error(`instance ${instance.name} has no primary network interface`);
    const vpcId = await this.routeVpcId(nic, signal);
    this.learnedVpcs.add(vpcId);
    const router = await this.ensureRouter(clusterName, vpcId, signal);
    await this.ensureAttached(nic.subnetId, router, signal);
    const cidr = route.destinationCIDR;
    try {
      await createRouterRoute(
        this.client,
        router.id,
        {
          name: routeName(clusterName, route.targetNode, cidr),
          description: routeDescription(clusterName, route.targetNode, cidr),
          destination: { type: 'ip_net', value: cidr },
          target: { type: 'instance', value: instance.name },
        },
        signal,
      );
    } catch (err) {
      // Deterministic names make a retry after a lost answer (or a restart) idempotent.
      if (isOxideError(err, 'already_exists')) return this.checkTransitIps(route, instance, nic);
      // Our router was deleted behind our back: forget it so the next attempt recreates it.
      if (isOxideError(err, 'not_found')) {
        this.routers.delete(vpcId);
        this.attachedSubnets.clear();
      }
      throw err;
    }
    this.checkTransitIps(route, instance, nic);
  }

  private checkTransitIps(route: Route, instance: Instance, nic: InstanceNetworkInterface): void {
    const cidr = route.destinationCIDR;
    if (!transitIps(nic).some((t) => cidrContains(t, cidr))) {
      this.warnings.push({
        nodeName: route.targetNode,
        reason: 'TransitIPsMissing',
        message:
          `route for pod CIDR ${cidr} created, but the primary NIC of instance ${instance.name} ` +
          `lacks ${cidr} in transit_ips, so Oxide drops the Node's pod traffic; transit_ips can ` +
          `only change while the instance is stopped (set them when creating the instance)`,
      });
    }
  }

  async deleteRoute(clusterName: string, route: Route, signal?: AbortSignal): Promise<void> {
    let routerId = this.routeRouter.get(route.name);
    if (!routerId) {
      await this.listRoutes(clusterName, signal);
      routerId = this.routeRouter.get(route.name);
      if (!routerId) return;
    }
    try {
      await deleteRouterRoute(this.client, routerId, route.name, signal);
    } catch (err) {
      if (!isOxideError(err, 'not_found')) throw err;
    }
    this.routeRouter.delete(route.name);
  }

  /** Warnings from createRoute since the last call (the route controller turns them into events). */
  takeRouteWarnings(): RouteWarning[] {
    const taken = this.warnings;
    this.warnings = [];
    return taken;
  }

  private async vpcIds(clusterName: string, signal?: AbortSignal): Promise<string[]> {
    if (this.vpcOverride !== undefined) return [await this.vpcIdByName(this.vpcOverride, signal)];
    if (!this.discovered) {
      for (const vpc of await listVpcs(this.client, {}, signal)) {
        if (await this.findRouter(clusterName, vpc.id, signal)) this.learnedVpcs.add(vpc.id);
      }
      this.discovered = true;
    }
    const ids = new Set(this.learnedVpcs);
    try {
      ids.add(await this.vpcIdByName(DEFAULT_VPC, signal));
    } catch (err) {
      if (!isOxideError(err, 'not_found')) throw err;
    }
    return [...ids];
  }

  private async vpcIdByName(name: string, signal?: AbortSignal): Promise<string> {
    const known = this.namedVpcIds.get(name);
    if (known) return known;
    const vpc = await viewVpcByName(this.client, name, signal);
    this.namedVpcIds.set(name, vpc.id);
    return vpc.id;
  }

  private async routeVpcId(nic: InstanceNetworkInterface, signal?: AbortSignal): Promise<string> {
    if (this.vpcOverride === undefined) return nic.vpcId;
    const vpcId = await this.vpcIdByName(this.vpcOverride, signal);
    if (vpcId !== nic.vpcId) {
      throw new Error(
        `primary NIC ${nic.name} is in VPC ${nic.vpcId}, not in the configured VPC ${this.vpcOverride}`,
      );
    }
    return vpcId;
  }

  private async findRouter(
    clusterName: string,
    vpcId: string,
    signal?: AbortSignal,
  ): Promise<VpcRouter | undefined> {
    const cached = this.routers.get(vpcId);
    if (cached) return cached;
    const name = routerName(clusterName);
    const found = (await listRouters(this.client, vpcId, signal)).find((r) => r.name === name);
    if (found) this.routers.set(vpcId, found);
    return found;
  }

  private ensureRouter(
    clusterName: string,
    vpcId: string,
    signal?: AbortSignal,
  ): Promise<VpcRouter> {
    return this.shared(
      this.routerInFlight,
      vpcId,
      () => this.findOrCreateRouter(clusterName, vpcId),
      signal,
    );
  }

  private async findOrCreateRouter(clusterName: string, vpcId: string): Promise<VpcRouter> {
    const found = await this.findRouter(clusterName, vpcId);
    if (found) return found;
    try {
      const created = await createRouter(
        this.client,
        vpcId,
        routerName(clusterName),
        routerDescription(clusterName),
      );
      this.routers.set(vpcId, created);
      return created;
    } catch (err) {
      if (!isOxideError(err, 'already_exists')) throw err;
      const raced = await this.findRouter(clusterName, vpcId);
      if (!raced) throw err;
      return raced;
    }
  }

  private async ensureAttached(
    subnetId: string,
    router: VpcRouter,
    signal?: AbortSignal,
  ): Promise<void> {
    const seen = this.attachedSubnets.get(subnetId);
    if (seen !== undefined && performance.now() - seen < ATTACHMENT_TTL_MS) return;
    return this.shared(this.attachInFlight, subnetId, () => this.attach(subnetId, router), signal);
  }

  /**
   * One call of work per key at a time: later callers wait for the one under way. The work is
   * shared, so it runs unbound by any caller's signal (the client's fence still ends it); a
   * caller whose signal aborts only stops waiting.
   */
  private shared<T>(
    inFlight: Map<string, Promise<T>>,
    key: string,
    work: () => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    signal?.throwIfAborted();
    let running = inFlight.get(key);
    if (!running) {
      running = work().finally(() => inFlight.delete(key));
      inFlight.set(key, running);
    }
    return abandonOn(running, signal);
  }

  private async attach(subnetId: string, router: VpcRouter): Promise<void> {
    const subnet = await viewSubnet(this.client, subnetId);
    const current = subnet.customRouterId ?? null;
    if (current === null) {
      await attachSubnetRouter(this.client, subnetId, router.id);
    } else if (current !== router.id) {
      throw new Error(
        `VPC subnet ${subnet.name} already has custom router ${current}; a subnet takes one ` +
          `custom router and this controller never replaces another one (wanted ${router.name})`,
      );
    }
    this.attachedSubnets.set(subnetId, performance.now());
  }

  /**
   * The instance behind a Node: by providerID when the Node has one (the identity the node
   * controller wrote), else instance name first, then hostname; must be unique.
   */
  private async instanceFor(
    nodeName: string,
    providerID: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Instance> {
    if (providerID) {
      const id = parseProviderID(providerID);
      return (
        (await this.inventory.snapshot(signal)).byId(id) ??
        viewInstanceById(this.client, id, signal)
      );
    }
    let matches = (await this.inventory.snapshot(signal)).matching(nodeName);
    if (matches.length === 0) {
      matches = (await this.inventory.fresh(performance.now(), signal)).matching(nodeName);
    }
    const [only] = matches;
    if (!only) throw new Error(`no instance named or with hostname ${nodeName}`);
    if (matches.length > 1) {
      throw new Error(
        `several instances match Node ${nodeName}: ${matches.map((i) => i.name).join(', ')}`,
      );
    }
    return only;
  }

  /** Absence from a snapshot is no proof: only a 404 on the view makes a route a blackhole. */
  private async instanceExists(name: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await viewInstanceByName(this.client, name, signal);
      return true;
    } catch (err) {
      if (isOxideError(err, 'not_found')) return false;
      throw err;
    }
  }
}

function transitIps(nic: InstanceNetworkInterface): string[] {
  const stack = nic.ipStack;
  if (stack.type === 'dual_stack') {
    return [...stack.value.v4.transitIps, ...stack.value.v6.transitIps];
  }
  return [...stack.value.transitIps];
}
