// What the per-resource modules (db/<resource>.ts) see of the silo: its tables and Nexus' lookups,
// which SimDb (../db.ts) implements. Declared here, below both, so the resource modules never
// import the class that imports them; the records only the simulator keeps are here too.
import type {
  ExternalIp,
  FloatingIp,
  Instance,
  InstanceNetworkInterface,
  Project,
  RouterRoute,
  SiloIpPool,
  Vpc,
  VpcFirewallRule,
  VpcRouter,
  VpcSubnet,
} from '@oxide/api';

/** An ephemeral or SNAT address, owned by one instance (floating IPs live in `floatingIps`). */
export interface InstanceExternalIp {
  instanceId: string;
  view: Extract<ExternalIp, { kind: 'ephemeral' | 'snat' }>;
}

/** An IP pool with the address ranges it allocates from. */
export interface PoolState {
  pool: SiloIpPool;
  ranges: { first: string; last: string }[];
}

export interface SiloTables {
  readonly defaultProject: string;
  readonly projects: Project[];
  readonly instances: Instance[];
  readonly nics: InstanceNetworkInterface[];
  readonly floatingIps: FloatingIp[];
  readonly externalIps: InstanceExternalIp[];
  readonly pools: PoolState[];
  readonly vpcs: Vpc[];
  readonly subnets: VpcSubnet[];
  readonly routers: VpcRouter[];
  readonly routes: RouterRoute[];
  readonly rules: Map<string, VpcFirewallRule[]>;
  /** Serial of the next NIC's MAC address (db/nics.ts); never reused. */
  macSerial: number;
}

/** Lookups with Nexus' selector rules: each throws the 404 (or 400) Nexus returns. */
export interface SiloLookups {
  project(ref: string): Project;
  projectById(id: string): Project;
  instance(ref: string, sel: { project?: string | undefined }): Instance;
  vpc(ref: string, sel: { project?: string | undefined }): Vpc;
  subnet(ref: string, sel: { vpc?: string | undefined; project?: string | undefined }): VpcSubnet;
  pool(ref: string): PoolState;
  /** Test-helper lookup: an id, or a name in the default project (then in any project). */
  findInstance(nameOrId: string): Instance;
  findFloatingIp(nameOrId: string): FloatingIp;
}

/** The silo as the resource modules use it. */
export type Silo = SiloTables & SiloLookups;
