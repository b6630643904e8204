// The Oxide CloudProvider: one client and one instance inventory shared by every capability, and
// one instance lookup (instance-lookup.ts) shared by the two that find a Node's instance
// (instances, routes). Load balancers and routes are added by their own modules.
import { PROVIDER_NAME } from '../../names.ts';
import type { OxideClient } from '../../oxide/client.ts';
import { InstanceInventory } from '../../oxide/inventory.ts';
import type { InstanceInventoryOptions } from '../../oxide/inventory.ts';
import type { CloudProvider, Instances, LoadBalancer, Routes } from '../provider.ts';
import type { ClusterIdentity } from './cluster.ts';
import { InstanceLookup } from './instance-lookup.ts';
import { OxideInstances } from './instances.ts';
import { OxideLoadBalancer } from './load-balancer/load-balancer.ts';
import type { NamedFloatingIpPolicy } from './load-balancer/owner.ts';
import { OxideRoutes } from './routes/routes.ts';
import type { SharedNameWatch } from './shared-name.ts';

export interface OxideCloudProviderOptions {
  client: OxideClient;
  /** This cluster (cluster.ts): its identity goes into every ownership record. */
  cluster: ClusterIdentity;
  /** Told when records show another cluster under this cluster's name (shared-name.ts). */
  sharedName?: SharedNameWatch;
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
}

export class OxideCloudProvider implements CloudProvider {
  readonly client: OxideClient;
  readonly inventory: InstanceInventory;
  private readonly instancesImpl: OxideInstances;
  private readonly loadBalancerImpl: OxideLoadBalancer;
  private readonly routesImpl: OxideRoutes;

  constructor(options: OxideCloudProviderOptions) {
    this.client = options.client;
    this.inventory = new InstanceInventory(options.client, options.inventory);
    const lookup = new InstanceLookup(this.client, this.inventory);
    this.instancesImpl = new OxideInstances({
      client: this.client,
      inventory: this.inventory,
      lookup,
      ...(options.region !== undefined ? { region: options.region } : {}),
      ...(options.zone !== undefined ? { zone: options.zone } : {}),
    });
    this.loadBalancerImpl = new OxideLoadBalancer({
      client: this.client,
      cluster: options.cluster,
      ...(options.sharedName ? { sharedName: options.sharedName } : {}),
      inventory: this.inventory,
      firewall: options.loadBalancerFirewall ?? false,
      ...(options.namedFloatingIps ? { namedFloatingIps: options.namedFloatingIps } : {}),
    });
    this.routesImpl = new OxideRoutes({
      client: this.client,
      inventory: this.inventory,
      lookup,
      cluster: options.cluster,
      sharedName: options.sharedName,
      ...(options.routesVpc !== undefined ? { vpc: options.routesVpc } : {}),
    });
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
