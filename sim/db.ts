// In-memory state of one simulated silo, stored in @oxide/api's own types so a drift between the
// simulator and the SDK is a compile error. This file holds the tables and the lookups (Nexus'
// selector rules, which throw the errors Nexus returns); each resource's seeds, records and rules
// live in db/<resource>.ts beside handlers/<resource>.ts. The world-changing methods are what
// tests use to move the world under the CCM (and what the HTTP handlers use, so both paths obey
// the same rules).
import { randomUUID } from 'node:crypto';
import type {
  CurrentUser,
  ExternalIp,
  FloatingIp,
  Instance,
  InstanceNetworkInterface,
  InstanceState,
  Project,
  RouterRoute,
  SiloIpPool,
  Vpc,
  VpcFirewallRule,
  VpcRouter,
  VpcSubnet,
} from '@oxide/api';
import { notFound } from './errors.ts';
import type { Family } from './ip.ts';
import {
  attachFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  detachFloatingIp,
  type FloatingIpSpec,
} from './db/floating-ips.ts';
import {
  addInstance,
  deleteInstance,
  instanceExternalIps,
  type InstanceSeed,
  setRunState,
} from './db/instances.ts';
import { addNic, type NicIps, type NicSeed, setNicIps } from './db/nics.ts';
import { addPool, DEFAULT_POOLS } from './db/pools.ts';
import { isUuid, pick, pickTop } from './db/select.ts';
import { addProject, DEFAULT_PROJECT, newUser } from './db/session.ts';
import type { InstanceExternalIp, PoolState, Silo } from './db/types.ts';
import { addSubnet, addVpc, DEFAULT_VPC, firewallRules, type SubnetSpec } from './db/vpcs.ts';
import type { Seed } from './seed.ts';

export class SimDb implements Silo {
  readonly siloId = randomUUID();
  readonly siloName = 'sim-silo';
  readonly user: CurrentUser;
  readonly defaultProject: string;
  readonly projects: Project[] = [];
  readonly instances: Instance[] = [];
  readonly nics: InstanceNetworkInterface[] = [];
  readonly floatingIps: FloatingIp[] = [];
  readonly externalIps: InstanceExternalIp[] = [];
  readonly pools: PoolState[] = [];
  readonly vpcs: Vpc[] = [];
  readonly subnets: VpcSubnet[] = [];
  readonly routers: VpcRouter[] = [];
  readonly routes: RouterRoute[] = [];
  readonly rules = new Map<string, VpcFirewallRule[]>();
  /** Serial of the next NIC's MAC address (db/nics.ts); never reused. */
  macSerial = 1;

  constructor(seed: Seed = {}) {
    this.user = newUser(this.siloId, this.siloName);
    for (const p of seed.pools ?? DEFAULT_POOLS)
      this.addPool(p.name, p.version, p.ranges, p.isDefault);
    this.defaultProject = seed.project ?? DEFAULT_PROJECT;
    this.addProject(this.defaultProject);
    for (const inst of seed.instances ?? []) this.addInstance(inst);
    for (const fip of seed.floatingIps ?? []) this.createFloatingIp(fip);
  }

  // ---- world builders (db/<resource>.ts) -------------------------------------------------------

  addPool(
    name: string,
    version: Family,
    ranges: { first: string; last: string }[],
    isDefault = false,
  ): SiloIpPool {
    return addPool(this, name, version, ranges, isDefault);
  }

  addProject(name: string): Project {
    return addProject(this, name);
  }

  /** Another VPC (like the default one: a subnet `default` with `ipv4Block`, a system router). */
  addVpc(name: string, ipv4Block: string, project = this.defaultProject): Vpc {
    return addVpc(this, name, ipv4Block, project);
  }

  /** A subnet in a project's default VPC (its system router gets the subnet route, as in Nexus). */
  addSubnet(spec: SubnetSpec): VpcSubnet {
    return addSubnet(this, spec);
  }

  addInstance(seed: InstanceSeed): Instance {
    return addInstance(this, seed);
  }

  setRunState(nameOrId: string, state: InstanceState): Instance {
    return setRunState(this, nameOrId, state);
  }

  /** Removes the instance with its NICs and ephemeral/SNAT IPs; its floating IPs are detached. */
  deleteInstance(nameOrId: string): void {
    deleteInstance(this, nameOrId);
  }

  addNic(instanceNameOrId: string, spec: NicSeed = {}): InstanceNetworkInterface {
    return addNic(this, instanceNameOrId, spec);
  }

  /** Changes a NIC's private addresses (and optionally transit IPs), as an address-change event. */
  setNicIps(instanceNameOrId: string, change: NicIps): InstanceNetworkInterface {
    return setNicIps(this, instanceNameOrId, change);
  }

  createFloatingIp(spec: FloatingIpSpec): FloatingIp {
    return createFloatingIp(this, spec);
  }

  /** Attaches to an instance (name in the FIP's project, or id); a no-op when already there. */
  attachFloatingIp(fipNameOrId: string, instanceNameOrId: string): FloatingIp {
    return attachFloatingIp(this, fipNameOrId, instanceNameOrId);
  }

  detachFloatingIp(fipNameOrId: string): FloatingIp {
    return detachFloatingIp(this, fipNameOrId);
  }

  deleteFloatingIp(fipNameOrId: string): void {
    deleteFloatingIp(this, fipNameOrId);
  }

  /** The VPC's firewall rules (name in the default project, or id). */
  firewallRules(vpcNameOrId = DEFAULT_VPC): VpcFirewallRule[] {
    return firewallRules(this, vpcNameOrId);
  }

  /** Every external address of an instance, as GET /v1/instances/{instance}/external-ips lists them. */
  instanceExternalIps(instanceId: string): ExternalIp[] {
    return instanceExternalIps(this, instanceId);
  }

  // ---- lookups with Nexus' selector rules -------------------------------------------------------

  project(ref: string): Project {
    return pickTop('project', ref, this.projects);
  }

  instance(ref: string, sel: { project?: string | undefined }): Instance {
    return pick('instance', ref, { project: sel.project }, this.instances, () => {
      const p = this.project(sel.project as string);
      return this.instances.filter((i) => i.projectId === p.id);
    });
  }

  nic(
    ref: string,
    sel: { instance?: string | undefined; project?: string | undefined },
  ): InstanceNetworkInterface {
    return pick(
      'instance-network-interface',
      ref,
      { instance: sel.instance, project: sel.project },
      this.nics,
      () => {
        const inst = this.instance(sel.instance as string, sel);
        return this.nics.filter((n) => n.instanceId === inst.id);
      },
    );
  }

  floatingIp(ref: string, sel: { project?: string | undefined }): FloatingIp {
    return pick('floating-ip', ref, { project: sel.project }, this.floatingIps, () => {
      const p = this.project(sel.project as string);
      return this.floatingIps.filter((f) => f.projectId === p.id);
    });
  }

  vpc(ref: string, sel: { project?: string | undefined }): Vpc {
    return pick('vpc', ref, { project: sel.project }, this.vpcs, () => {
      const p = this.project(sel.project as string);
      return this.vpcs.filter((v) => v.projectId === p.id);
    });
  }

  subnet(ref: string, sel: { vpc?: string | undefined; project?: string | undefined }): VpcSubnet {
    return pick('vpc-subnet', ref, { vpc: sel.vpc, project: sel.project }, this.subnets, () => {
      const vpc = this.vpc(sel.vpc as string, sel);
      return this.subnets.filter((s) => s.vpcId === vpc.id);
    });
  }

  router(ref: string, sel: { vpc?: string | undefined; project?: string | undefined }): VpcRouter {
    return pick('vpc-router', ref, { vpc: sel.vpc, project: sel.project }, this.routers, () => {
      const vpc = this.vpc(sel.vpc as string, sel);
      return this.routers.filter((r) => r.vpcId === vpc.id);
    });
  }

  route(
    ref: string,
    sel: { router?: string | undefined; vpc?: string | undefined; project?: string | undefined },
  ): RouterRoute {
    return pick(
      'router-route',
      ref,
      { router: sel.router, vpc: sel.vpc, project: sel.project },
      this.routes,
      () => {
        const router = this.router(sel.router as string, sel);
        return this.routes.filter((r) => r.vpcRouterId === router.id);
      },
    );
  }

  pool(ref: string): PoolState {
    const p = this.pools.find((x) => (isUuid(ref) ? x.pool.id === ref : x.pool.name === ref));
    if (!p) throw notFound('ip-pool', isUuid(ref) ? 'id' : 'name', ref);
    return p;
  }

  projectById(id: string): Project {
    return pickTop('project', id, this.projects);
  }

  /** Test-helper lookup: an id, or a name in the default project (then in any project). */
  findInstance(nameOrId: string): Instance {
    if (isUuid(nameOrId)) return this.instance(nameOrId, {});
    const p = this.project(this.defaultProject);
    const inst =
      this.instances.find((i) => i.projectId === p.id && i.name === nameOrId) ??
      this.instances.find((i) => i.name === nameOrId);
    if (!inst) throw notFound('instance', 'name', nameOrId);
    return inst;
  }

  findFloatingIp(nameOrId: string): FloatingIp {
    if (isUuid(nameOrId)) return this.floatingIp(nameOrId, {});
    const fip = this.floatingIps.find((f) => f.name === nameOrId);
    if (!fip) throw notFound('floating-ip', 'name', nameOrId);
    return fip;
  }
}
