// The Oxide CloudProvider: the configured projects (projects.ts: per project a client scope and
// an instance inventory) shared by every capability, and one instance lookup (instance-lookup.ts)
// shared by those that find a Node's instance (instances, routes, and load-balancer placement
// with several projects). Load balancers and routes are added by their own modules.
import type { Logger } from '../../log.ts';
import { PROVIDER_NAME } from '../../names.ts';
import type { OxideClient } from '../../oxide/client.ts';
import type { InstanceInventory, InstanceInventoryOptions } from '../../oxide/inventory.ts';
import type { CloudProvider, Instances, LoadBalancer, Routes } from '../provider.ts';
import type { ClusterIdentity } from './cluster.ts';
import { InstanceLookup } from './instance-lookup.ts';
import { OxideInstances } from './instances.ts';
import { OxideLoadBalancer } from './load-balancer/load-balancer.ts';
import type { NamedFloatingIpPolicy } from './load-balancer/owner.ts';
import { OxideProjects } from './projects.ts';
import { OxideRoutes } from './routes/routes.ts';
import type { SharedNameWatch } from './same-name.ts';

export interface OxideCloudProviderOptions {
  /** The default project's client (its project is the first of `projects`). */
  client: OxideClient;
  /** This cluster (cluster.ts): its identity goes into every ownership record. */
  cluster: ClusterIdentity;
  /** Told when records show another cluster under this cluster's name (same-name.ts). */
  sharedName?: SharedNameWatch;
  /**
   * Every project holding the cluster's Nodes (--oxide-projects), the default first; default:
   * the client's project alone.
   */
  projects?: readonly string[];
  /** Written to topology.kubernetes.io/region when set; Oxide itself has no regions. */
  region?: string;
  /** Written to topology.kubernetes.io/zone when set; Oxide itself has no zones. */
  zone?: string;
  inventory?: InstanceInventoryOptions;
  /** Default of the Service annotation oxide.computer/firewall (manage VPC firewall rules). */
  loadBalancerFirewall?: boolean;
  /** Which FIPs oxide.computer/floating-ip-name may name; default "marked". */
  namedFloatingIps?: NamedFloatingIpPolicy;
  /** VPC (name) for pod-CIDR routes; default: the VPC of each Node's primary NIC. */
  routesVpc?: string;
  /** Where the load balancer says what it did (created, moved, deleted); default: nowhere. */
  logger?: Logger;
}

export class OxideCloudProvider implements CloudProvider {
  readonly client: OxideClient;
  readonly projects: OxideProjects;
  private readonly instancesImpl: OxideInstances;
  private readonly loadBalancerImpl: OxideLoadBalancer;
  private readonly routesImpl: OxideRoutes;

  constructor(options: OxideCloudProviderOptions) {
    this.client = options.client;
    const names = options.projects?.length ? options.projects : [options.client.project];
    this.projects = new OxideProjects(
      options.client.forProject(names[0] ?? ''),
      names,
      options.inventory,
    );
    const lookup = new InstanceLookup(this.projects);
    this.instancesImpl = new OxideInstances({
      projects: this.projects,
      lookup,
      ...(options.region !== undefined ? { region: options.region } : {}),
      ...(options.zone !== undefined ? { zone: options.zone } : {}),
    });
    this.loadBalancerImpl = new OxideLoadBalancer({
      projects: this.projects,
      lookup,
      cluster: options.cluster,
      ...(options.sharedName ? { sharedName: options.sharedName } : {}),
      firewall: options.loadBalancerFirewall ?? false,
      ...(options.namedFloatingIps ? { namedFloatingIps: options.namedFloatingIps } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.routesImpl = new OxideRoutes({
      projects: this.projects,
      lookup,
      cluster: options.cluster,
      sharedName: options.sharedName,
      ...(options.routesVpc !== undefined ? { vpc: options.routesVpc } : {}),
    });
  }

  /** The default project's inventory. */
  get inventory(): InstanceInventory {
    return this.projects.default.inventory;
  }

  providerName(): string {
    return PROVIDER_NAME;
  }

  instances(): Instances {
    return this.instancesImpl;
  }

  loadBalancer(): LoadBalancer {
    return this.loadBalancerImpl;
  }

  routes(): Routes {
    return this.routesImpl;
  }
}
