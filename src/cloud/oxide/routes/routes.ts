// Routes on Oxide: one custom VPC router per cluster (`<cluster>-pods`), attached to the subnets
// of the Nodes' primary NICs, holding one `ip_net` → `instance` route per Node pod CIDR. Custom
// routes cannot go on a VPC's system router, and a subnet has at most one custom router: one that
// is not ours is never replaced. createRoute is a pipeline, one file per step:
//   1. targets.ts     the Node's instance (the shared lookup, project check) and its primary NIC
//   2. vpcs.ts        the VPC holding the route
//   3. routers.ts     our router in that VPC, created once when missing
//   4. attachment.ts  our router attached to the NIC's subnet
//   5. table.ts       the route written (idempotent by its deterministic name)
//   6. warnings.ts    what the route cannot fix (transit_ips), for the controller's events
// listRoutes reads our router in every VPC that may hold one (vpcs.ts) and only the routes whose
// record marks them as ours (table.ts); the route controller diffs them against the Nodes. What
// is ours is decided in ownership.ts alone, so nothing we did not create is listed or deleted.
// With several projects the pipeline runs per project: a VPC belongs to one project, so each
// project has its own VPCs (vpcs.ts), and so its own router and routes for its Nodes; routers
// and subnets are then addressed by id, which needs no project.
import type { OxideClient } from '../../../oxide/client.ts';
import { isOxideError } from '../../../oxide/errors.ts';
import type { Route, RouteWarning, Routes } from '../../provider.ts';
import { InstanceLookup } from '../instance-lookup.ts';
import type { OxideProject, OxideProjects } from '../projects.ts';
import { SubnetAttachments } from './attachment.ts';
import type { ClusterIdentity } from '../cluster.ts';
import type { SharedNameWatch } from '../same-name.ts';
import { Routers } from './routers.ts';
import { listOurRoutes, removeRoute, writeRoute } from './table.ts';
import { RouteTargets } from './targets.ts';
import { RouteVpcs } from './vpcs.ts';
import { RouteWarnings } from './warnings.ts';

export interface OxideRoutesOptions {
  projects: OxideProjects;
  /** The lookup shared with the other capabilities; its own when omitted. */
  lookup?: InstanceLookup;
  /**
   * VPC (name, in each project) holding the routes; default: the VPCs of the target instances'
   * primary NICs.
   */
  vpc?: string;
  /** This cluster: its identity is in its routers' records (ownership.ts). */
  cluster: ClusterIdentity;
  /** Told when a router of this cluster's name names another cluster (same-name.ts). */
  sharedName?: SharedNameWatch | undefined;
}

export class OxideRoutes implements Routes {
  private readonly client: OxideClient;
  private readonly projects: OxideProjects;
  private readonly targets: RouteTargets;
  private readonly routers: Routers;
  /** Per project (by name as configured): the VPCs that hold its routes. */
  private readonly vpcs = new Map<string, RouteVpcs>();
  private readonly attachments: SubnetAttachments;
  private readonly warnings = new RouteWarnings();
  /**
   * Route name → router id, for deleteRoute: replaced by each listRoutes, so it holds only the
   * routes that exist now (at most one per Node pod CIDR), never every route ever seen.
   */
  private routeRouter = new Map<string, string>();

  constructor(options: OxideRoutesOptions) {
    const { projects } = options;
    this.projects = projects;
    this.client = projects.default.client;
    this.targets = new RouteTargets(options.lookup ?? new InstanceLookup(projects));
    this.routers = new Routers(this.client, options.cluster.id, options.sharedName);
    for (const p of projects.all) {
      this.vpcs.set(p.name, new RouteVpcs(p.client, this.routers, options.vpc));
    }
    this.attachments = new SubnetAttachments(this.client);
  }

  async listRoutes(clusterName: string, signal?: AbortSignal): Promise<Route[]> {
    const routes: Route[] = [];
    const routeRouter = new Map<string, string>();
    for (const project of this.projects.all) {
      for (const vpcId of await this.vpcsOf(project).all(clusterName, signal)) {
        const router = await this.routers.find(clusterName, vpcId, signal);
        if (!router) continue;
        const ours = await listOurRoutes(this.client, router, clusterName, signal);
        if (!ours) {
          this.routers.forget(vpcId);
          continue;
        }
        for (const { route, owner, targetInstance } of ours) {
          routeRouter.set(route.name, router.id);
          routes.push({
            name: route.name,
            targetNode: owner.nodeName,
            destinationCIDR:
              route.destination.type === 'ip_net' ? route.destination.value : owner.cidr,
            blackhole: await this.targets.isGone(targetInstance, project, signal),
          });
        }
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
    // 1. Target: refused here when it is in no configured project, before anything is written.
    const target = await this.targets.resolve(route, signal);
    // 2. VPC (in the target's project), 3. router, 4. subnet attachment.
    const vpcId = await this.vpcsOf(target.project).of(target.nic, signal);
    const router = await this.routers.ensure(clusterName, vpcId, signal);
    await this.attachments.ensure(target.nic.subnetId, router, signal);
    // 5. The route.
    try {
      await writeRoute(
        this.client,
        router.id,
        clusterName,
        route.targetNode,
        route.destinationCIDR,
        target.instance.name,
        signal,
      );
    } catch (err) {
      // Our router was deleted behind our back: forget it so the next attempt makes it again.
      if (isOxideError(err, 'not_found')) this.routers.forget(vpcId);
      throw err;
    }
    // 6. Warnings.
    this.warnings.checkTransitIps(route, target);
  }

  async deleteRoute(clusterName: string, route: Route, signal?: AbortSignal): Promise<void> {
    let routerId = this.routeRouter.get(route.name);
    if (!routerId) {
      await this.listRoutes(clusterName, signal);
      routerId = this.routeRouter.get(route.name);
      if (!routerId) return;
    }
    await removeRoute(this.client, routerId, route.name, signal);
    this.routeRouter.delete(route.name);
  }

  private vpcsOf(project: OxideProject): RouteVpcs {
    const vpcs = this.vpcs.get(project.name);
    if (!vpcs) throw new Error(`project ${project.name} is not configured`);
    return vpcs;
  }

  /** Warnings from createRoute since the last call (the route controller turns them into events). */
  takeRouteWarnings(): RouteWarning[] {
    return this.warnings.take();
  }
}
