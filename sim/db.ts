// In-memory state of one simulated silo, stored in @oxide/api's own types so a drift between the
// simulator and the SDK is a compile error. Lookups follow Nexus' selector rules and throw the
// errors Nexus returns; the world-changing helpers are what tests use to move the world under
// the CCM (and what the HTTP handlers use, so both paths obey the same rules).
import { randomUUID } from 'node:crypto';
import type {
  CurrentUser,
  ExternalIp,
  FloatingIp,
  Instance,
  InstanceNetworkInterface,
  InstanceState,
  PrivateIpStack,
  PrivateIpv4Stack,
  PrivateIpv6Stack,
  Project,
  RouterRoute,
  SiloIpPool,
  Vpc,
  VpcFirewallRule,
  VpcRouter,
  VpcSubnet,
} from '@oxide/api';
import { DEFAULT_SUBNET, DEFAULT_VPC, defaultVpc, subnetRoute } from './defaults.ts';
import {
  alreadyExists,
  ApiError,
  insufficientCapacity,
  invalidRequest,
  notFound,
  type ResourceType,
} from './errors.ts';
import {
  canonicalIp,
  cidrContains,
  cidrSize,
  type Family,
  familyOf,
  firstFree,
  parseCidr,
  toBigInt,
} from './ip.ts';
import {
  DEFAULT_POOLS,
  DEFAULT_PROJECT,
  type InstanceSeed,
  type NicSeed,
  type Seed,
} from './seed.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID.test(s);

const NAME = /^[a-z]([a-zA-Z0-9-]*[a-zA-Z0-9]+)?$/;
export function checkName(name: unknown, label = 'name'): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > 63 || isUuid(name)) {
    throw new ApiError(
      400,
      undefined,
      `unable to parse JSON body: ${label}: invalid name "${String(name)}"`,
    );
  }
  return name;
}

const GiB = 1024 ** 3;
const MAX_NICS = 8;
const MAX_EXTERNAL_IPS = 32;
// Nexus reserves the first addresses of every VPC subnet (network, gateway, DNS, ...) and the last.
const RESERVED_LOW = 5n;

/** An ephemeral or SNAT address, owned by one instance (floating IPs live in `floatingIps`). */
export interface InstanceExternalIp {
  instanceId: string;
  view: Extract<ExternalIp, { kind: 'ephemeral' | 'snat' }>;
}

export interface PoolState {
  pool: SiloIpPool;
  ranges: { first: string; last: string }[];
}

export interface NicIps {
  /** NIC name; the primary NIC when omitted. */
  nic?: string;
  /** New address ('auto' allocates); null removes that family; undefined keeps it. */
  v4?: string | null;
  v6?: string | null;
  transitIps?: string[];
}

export interface FloatingIpSpec {
  name: string;
  description?: string;
  project?: string;
  /** Explicit address; it must lie in a silo-linked pool. */
  ip?: string;
  /** Pool name or id; the silo's default pool of `ipVersion` otherwise. */
  pool?: string;
  /**
   * Default-pool version. Omitted means v4 (a test convenience); null is the API's "auto", which
   * is a 400 when the silo has both a v4 and a v6 default pool.
   */
  ipVersion?: Family | null;
  /** Instance name (in the FIP's project) or id to attach to. */
  instance?: string;
}

const now = (): Date => new Date();

export class SimDb {
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
  private macCounter = 1;

  constructor(seed: Seed = {}) {
    const t = now();
    this.user = {
      id: randomUUID(),
      displayName: 'sim-user',
      siloId: this.siloId,
      siloName: this.siloName,
      siloAdmin: false,
      fleetViewer: false,
      timeCreated: t,
      timeModified: t,
    };
    for (const p of seed.pools ?? DEFAULT_POOLS)
      this.addPool(p.name, p.version, p.ranges, p.isDefault);
    this.defaultProject = seed.project ?? DEFAULT_PROJECT;
    this.addProject(this.defaultProject);
    for (const inst of seed.instances ?? []) this.addInstance(inst);
    for (const fip of seed.floatingIps ?? []) this.createFloatingIp(fip);
  }

  // ---- world builders ------------------------------------------------------------------------

  addPool(
    name: string,
    version: Family,
    ranges: { first: string; last: string }[],
    isDefault = false,
  ): SiloIpPool {
    checkName(name);
    if (this.pools.some((p) => p.pool.name === name)) throw alreadyExists('ip-pool', name);
    for (const r of ranges) {
      if (familyOf(r.first) !== version || familyOf(r.last) !== version) {
        throw new Error(`pool ${name}: range ${r.first}-${r.last} is not ${version}`);
      }
    }
    if (isDefault) {
      for (const p of this.pools) if (p.pool.ipVersion === version) p.pool.isDefault = false;
    }
    const t = now();
    const pool: SiloIpPool = {
      id: randomUUID(),
      name,
      description: `${version} pool`,
      ipVersion: version,
      isDefault,
      poolType: 'unicast',
      timeCreated: t,
      timeModified: t,
    };
    this.pools.push({
      pool,
      ranges: ranges.map((r) => ({ first: canonicalIp(r.first), last: canonicalIp(r.last) })),
    });
    return pool;
  }

  addProject(name: string): Project {
    checkName(name);
    if (this.projects.some((p) => p.name === name)) throw alreadyExists('project', name);
    const t = now();
    const project: Project = {
      id: randomUUID(),
      name,
      description: `project ${name}`,
      timeCreated: t,
      timeModified: t,
    };
    this.projects.push(project);
    const b = defaultVpc(project.id, t);
    this.vpcs.push(b.vpc);
    this.subnets.push(b.subnet);
    this.routers.push(b.router);
    this.routes.push(...b.routes);
    this.rules.set(b.vpc.id, b.rules);
    return project;
  }

  /** Another VPC (like the default one: a subnet `default` with `ipv4Block`, a system router). */
  addVpc(name: string, ipv4Block: string, project = this.defaultProject): Vpc {
    checkName(name);
    const p = this.project(project);
    if (this.vpcs.some((v) => v.projectId === p.id && v.name === name)) {
      throw alreadyExists('vpc', name);
    }
    const b = defaultVpc(p.id, now(), name, ipv4Block);
    this.vpcs.push(b.vpc);
    this.subnets.push(b.subnet);
    this.routers.push(b.router);
    this.routes.push(...b.routes);
    this.rules.set(b.vpc.id, b.rules);
    return b.vpc;
  }

  /** A subnet in a project's default VPC (its system router gets the subnet route, as in Nexus). */
  addSubnet(spec: {
    name: string;
    ipv4Block: string;
    ipv6Block?: string;
    project?: string;
  }): VpcSubnet {
    const vpc = this.vpc(DEFAULT_VPC, { project: spec.project ?? this.defaultProject });
    checkName(spec.name);
    if (this.subnets.some((s) => s.vpcId === vpc.id && s.name === spec.name)) {
      throw alreadyExists('vpc-subnet', spec.name);
    }
    const index = this.subnets.filter((s) => s.vpcId === vpc.id).length;
    const t = now();
    const subnet: VpcSubnet = {
      id: randomUUID(),
      name: spec.name,
      description: '',
      vpcId: vpc.id,
      ipv4Block: spec.ipv4Block,
      ipv6Block: spec.ipv6Block ?? vpc.ipv6Prefix.replace('::/48', `:${index.toString(16)}::/64`),
      customRouterId: null,
      timeCreated: t,
      timeModified: t,
    };
    this.subnets.push(subnet);
    this.routes.push(subnetRoute(subnet, vpc.systemRouterId, t));
    return subnet;
  }

  addInstance(seed: InstanceSeed): Instance {
    const project = this.project(seed.project ?? this.defaultProject);
    checkName(seed.name);
    if (this.instances.some((i) => i.projectId === project.id && i.name === seed.name)) {
      throw alreadyExists('instance', seed.name);
    }
    const t = now();
    const instance: Instance = {
      id: seed.id ?? randomUUID(),
      name: seed.name,
      description: seed.description ?? '',
      hostname: seed.hostname ?? seed.name,
      ncpus: seed.ncpus ?? 2,
      memory: (seed.memoryGiB ?? 8) * GiB,
      projectId: project.id,
      runState: seed.runState ?? 'running',
      autoRestartEnabled: true,
      autoRestartPolicy: null,
      autoRestartCooldownExpiration: null,
      bootDiskId: null,
      cpuPlatform: null,
      enableJumboFrames: false,
      timeCreated: t,
      timeModified: t,
      timeRunStateUpdated: t,
      timeLastAutoRestarted: null,
    };
    if (this.instances.some((i) => i.id === instance.id))
      throw new Error(`duplicate instance id ${instance.id}`);
    this.instances.push(instance);
    const nics = seed.nics ?? [{}];
    const primaryIndex = Math.max(
      0,
      nics.findIndex((n) => n.primary === true),
    );
    nics.forEach((n, i) => this.addNic(instance.id, { ...n, primary: i === primaryIndex }));
    if (seed.snatIp !== undefined) this.addInstanceExternalIp(instance, 'snat', seed.snatIp);
    if (seed.ephemeralIp !== undefined)
      this.addInstanceExternalIp(instance, 'ephemeral', seed.ephemeralIp);
    return instance;
  }

  setRunState(nameOrId: string, state: InstanceState): Instance {
    const instance = this.findInstance(nameOrId);
    const t = now();
    instance.runState = state;
    instance.timeRunStateUpdated = t;
    instance.timeModified = t;
    return instance;
  }

  /** Removes the instance with its NICs and ephemeral/SNAT IPs; its floating IPs are detached. */
  deleteInstance(nameOrId: string): void {
    const instance = this.findInstance(nameOrId);
    remove(this.instances, (i) => i.id === instance.id);
    remove(this.nics, (n) => n.instanceId === instance.id);
    remove(this.externalIps, (e) => e.instanceId === instance.id);
    for (const f of this.floatingIps) if (f.instanceId === instance.id) f.instanceId = null;
  }

  addNic(instanceNameOrId: string, spec: NicSeed = {}): InstanceNetworkInterface {
    const instance = this.findInstance(instanceNameOrId);
    const mine = this.nics.filter((n) => n.instanceId === instance.id);
    if (mine.length >= MAX_NICS) {
      throw invalidRequest(`Instances may not have more than ${MAX_NICS} network interfaces`);
    }
    const name = spec.name ?? `net${mine.length}`;
    checkName(name);
    if (mine.some((n) => n.name === name)) throw alreadyExists('instance-network-interface', name);
    const project = this.projectById(instance.projectId);
    const vpc = this.vpc(spec.vpc ?? DEFAULT_VPC, { project: project.name });
    const subnet = this.subnet(spec.subnet ?? DEFAULT_SUBNET, { vpc: vpc.id });
    const t = now();
    const nic: InstanceNetworkInterface = {
      id: randomUUID(),
      name,
      description: '',
      instanceId: instance.id,
      subnetId: subnet.id,
      vpcId: vpc.id,
      mac: this.nextMac(),
      primary: spec.primary ?? mine.length === 0,
      ipStack: { type: 'v4', value: { ip: '0.0.0.0', transitIps: [] } },
      timeCreated: t,
      timeModified: t,
    };
    const wantV4 = spec.v4 ?? (spec.v6 === undefined ? 'auto' : undefined);
    nic.ipStack = this.buildStack(
      subnet,
      nic,
      wantV4 ?? null,
      spec.v6 ?? null,
      spec.transitIps ?? [],
    );
    if (nic.primary) for (const n of mine) n.primary = false;
    this.nics.push(nic);
    return nic;
  }

  /** Changes a NIC's private addresses (and optionally transit IPs), as an address-change event. */
  setNicIps(instanceNameOrId: string, change: NicIps): InstanceNetworkInterface {
    const instance = this.findInstance(instanceNameOrId);
    const nic = this.nics.find(
      (n) =>
        n.instanceId === instance.id &&
        (change.nic === undefined ? n.primary : n.name === change.nic),
    );
    if (!nic) throw notFound('instance-network-interface', 'name', change.nic ?? 'primary');
    const cur = stackParts(nic.ipStack);
    const subnet = this.subnets.find((s) => s.id === nic.subnetId);
    if (!subnet) throw new Error(`subnet of ${nic.name} vanished`);
    const v4 = change.v4 === undefined ? (cur.v4?.ip ?? null) : change.v4;
    const v6 = change.v6 === undefined ? (cur.v6?.ip ?? null) : change.v6;
    const transit = change.transitIps ?? [
      ...(cur.v4?.transitIps ?? []),
      ...(cur.v6?.transitIps ?? []),
    ];
    nic.ipStack = this.buildStack(subnet, nic, v4, v6, transit);
    nic.timeModified = now();
    return nic;
  }

  // ---- floating IPs --------------------------------------------------------------------------

  createFloatingIp(spec: FloatingIpSpec): FloatingIp {
    const project = this.project(spec.project ?? this.defaultProject);
    checkName(spec.name);
    if (this.floatingIps.some((f) => f.projectId === project.id && f.name === spec.name)) {
      throw alreadyExists('floating-ip', spec.name);
    }
    const { pool, ip } = this.allocateExternal({
      ...spec,
      ipVersion: spec.ipVersion === undefined ? 'v4' : spec.ipVersion,
    });
    const t = now();
    const fip: FloatingIp = {
      id: randomUUID(),
      name: spec.name,
      description: spec.description ?? '',
      ip,
      ipPoolId: pool.id,
      projectId: project.id,
      instanceId: null,
      timeCreated: t,
      timeModified: t,
    };
    this.floatingIps.push(fip);
    if (spec.instance !== undefined) this.attachFloatingIp(fip.id, spec.instance);
    return fip;
  }

  /** Attaches to an instance (name in the FIP's project, or id); a no-op when already there. */
  attachFloatingIp(fipNameOrId: string, instanceNameOrId: string): FloatingIp {
    const fip = this.findFloatingIp(fipNameOrId);
    const instance = isUuid(instanceNameOrId)
      ? this.instance(instanceNameOrId, {})
      : this.instance(instanceNameOrId, { project: fip.projectId });
    if (fip.instanceId === instance.id) return fip;
    if (fip.instanceId) {
      throw invalidRequest(
        'floating IP cannot be attached to one instance while still attached to another',
      );
    }
    if (instance.projectId !== fip.projectId) {
      throw invalidRequest('floating IP must be in the same project as the instance');
    }
    const family = familyOf(fip.ip);
    const primary = this.nics.find((n) => n.instanceId === instance.id && n.primary);
    if (!primary || !family || !stackParts(primary.ipStack)[family]) {
      throw invalidRequest(
        `cannot attach an ${family === 'v6' ? 'IPv6' : 'IPv4'} floating IP to an instance whose primary interface has no ${family === 'v6' ? 'IPv6' : 'IPv4'} address`,
      );
    }
    const held =
      this.floatingIps.filter((f) => f.instanceId === instance.id).length +
      this.externalIps.filter((e) => e.instanceId === instance.id && e.view.kind === 'ephemeral')
        .length;
    if (held >= MAX_EXTERNAL_IPS) {
      throw invalidRequest(
        `an instance may not have more than ${MAX_EXTERNAL_IPS} external IP addresses`,
      );
    }
    fip.instanceId = instance.id;
    fip.timeModified = now();
    return fip;
  }

  detachFloatingIp(fipNameOrId: string): FloatingIp {
    const fip = this.findFloatingIp(fipNameOrId);
    if (fip.instanceId) {
      fip.instanceId = null;
      fip.timeModified = now();
    }
    return fip;
  }

  deleteFloatingIp(fipNameOrId: string): void {
    const fip = this.findFloatingIp(fipNameOrId);
    if (fip.instanceId) {
      throw invalidRequest('Floating IP cannot be deleted while attached to an instance');
    }
    remove(this.floatingIps, (f) => f.id === fip.id);
  }

  /** The VPC's firewall rules (name in the default project, or id). */
  firewallRules(vpcNameOrId = DEFAULT_VPC): VpcFirewallRule[] {
    const vpc = isUuid(vpcNameOrId)
      ? this.vpc(vpcNameOrId, {})
      : this.vpc(vpcNameOrId, { project: this.defaultProject });
    return this.rules.get(vpc.id) ?? [];
  }

  /** Every external address of an instance, as GET /v1/instances/{instance}/external-ips lists them. */
  instanceExternalIps(instanceId: string): ExternalIp[] {
    return [
      ...this.externalIps.filter((e) => e.instanceId === instanceId).map((e) => e.view),
      ...this.floatingIps
        .filter((f) => f.instanceId === instanceId)
        .map((f): ExternalIp => ({ ...f, kind: 'floating' })),
    ];
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

  // ---- address allocation --------------------------------------------------------------------

  private usedExternal(): Set<string> {
    return new Set([
      ...this.floatingIps.map((f) => f.ip),
      ...this.externalIps.map((e) => e.view.ip),
    ]);
  }

  /** Picks the pool and address for a new external IP, following FloatingIpCreate's allocator. */
  allocateExternal(spec: { ip?: string; pool?: string; ipVersion?: Family | null }): {
    pool: SiloIpPool;
    ip: string;
  } {
    const used = this.usedExternal();
    if (spec.ip !== undefined && spec.ip !== 'auto') {
      const family = familyOf(spec.ip);
      const ip = canonicalIp(spec.ip);
      const state = this.pools.find(
        (p) =>
          p.pool.ipVersion === family &&
          p.ranges.some(
            (r) => toBigInt(ip) >= toBigInt(r.first) && toBigInt(ip) <= toBigInt(r.last),
          ),
      );
      if (!family || !state)
        throw invalidRequest(
          `Requested external IP address ${spec.ip} is not in any IP pool linked to the silo`,
        );
      if (used.has(ip))
        throw invalidRequest(`Requested external IP address ${spec.ip} is not available`);
      return { pool: state.pool, ip };
    }
    let state: PoolState;
    if (spec.pool !== undefined) {
      state = this.pool(spec.pool);
    } else {
      const defaults = this.pools.filter(
        (p) => p.pool.isDefault && (!spec.ipVersion || p.pool.ipVersion === spec.ipVersion),
      );
      if (defaults.length === 0) {
        throw notFound('ip-pool', 'name', spec.ipVersion ? `default ${spec.ipVersion}` : 'default');
      }
      if (defaults.length > 1) {
        throw invalidRequest(
          'the silo has default pools for both IPv4 and IPv6; specify ip_version',
        );
      }
      state = defaults[0] as PoolState;
    }
    for (const r of state.ranges) {
      const ip = firstFree(toBigInt(r.first), toBigInt(r.last), state.pool.ipVersion, used);
      if (ip) return { pool: state.pool, ip };
    }
    throw insufficientCapacity('No external IP addresses available');
  }

  private addInstanceExternalIp(
    instance: Instance,
    kind: 'snat' | 'ephemeral',
    address: string,
  ): void {
    const { pool, ip } = this.allocateExternal({
      ip: address,
      ipVersion: address === 'auto' ? 'v4' : null,
    });
    const view: InstanceExternalIp['view'] =
      kind === 'snat'
        ? { kind, ip, ipPoolId: pool.id, firstPort: 0, lastPort: 16383 }
        : { kind, ip, ipPoolId: pool.id };
    this.externalIps.push({ instanceId: instance.id, view });
  }

  private nextMac(): string {
    const n = this.macCounter++;
    const hex = (v: number): string => v.toString(16).toUpperCase().padStart(2, '0');
    return `A8:40:25:F${(n >> 16) & 0x7}:${hex((n >> 8) & 0xff)}:${hex(n & 0xff)}`;
  }

  private buildStack(
    subnet: VpcSubnet,
    nic: InstanceNetworkInterface,
    v4: string | null,
    v6: string | null,
    transitIps: string[],
  ): PrivateIpStack {
    const transit4 = transitIps.filter((c) => parseCidr(c)?.family === 'v4');
    const transit6 = transitIps.filter((c) => parseCidr(c)?.family === 'v6');
    if (transit4.length + transit6.length !== transitIps.length) {
      throw invalidRequest(`invalid transit IP network in ${JSON.stringify(transitIps)}`);
    }
    const s4: PrivateIpv4Stack | undefined =
      v4 === null ? undefined : { ip: this.privateIp(subnet, nic, 'v4', v4), transitIps: transit4 };
    const s6: PrivateIpv6Stack | undefined =
      v6 === null ? undefined : { ip: this.privateIp(subnet, nic, 'v6', v6), transitIps: transit6 };
    if ((!s4 && transit4.length > 0) || (!s6 && transit6.length > 0)) {
      throw invalidRequest('transit IPs must match the IP version of the interface');
    }
    if (s4 && s6) return { type: 'dual_stack', value: { v4: s4, v6: s6 } };
    if (s4) return { type: 'v4', value: s4 };
    if (s6) return { type: 'v6', value: s6 };
    throw invalidRequest('a network interface needs an IPv4 or an IPv6 address');
  }

  private privateIp(
    subnet: VpcSubnet,
    nic: InstanceNetworkInterface,
    family: Family,
    want: string,
  ): string {
    const block = parseCidr(family === 'v4' ? subnet.ipv4Block : subnet.ipv6Block);
    if (!block) throw new Error(`subnet ${subnet.name} has no ${family} block`);
    const used = new Set<string>();
    for (const n of this.nics) {
      if (n.subnetId !== subnet.id || n.id === nic.id) continue;
      const ip = stackParts(n.ipStack)[family]?.ip;
      if (ip) used.add(ip);
    }
    if (want !== 'auto') {
      const ip = canonicalIp(want);
      if (!cidrContains(block, ip)) {
        throw invalidRequest(
          `address ${want} is not in subnet ${subnet.name} (${family === 'v4' ? subnet.ipv4Block : subnet.ipv6Block})`,
        );
      }
      if (used.has(ip)) throw invalidRequest(`The IP address ${want} is not available`);
      return ip;
    }
    const last = block.base + cidrSize(block) - 2n;
    const ip = firstFree(block.base + RESERVED_LOW, last, family, used);
    if (!ip)
      throw insufficientCapacity(
        `No available IP addresses for interface in subnet ${subnet.name}`,
      );
    return ip;
  }
}

/** The v4 and v6 halves of a NIC's stack, whichever exist. */
export function stackParts(s: PrivateIpStack): { v4?: PrivateIpv4Stack; v6?: PrivateIpv6Stack } {
  if (s.type === 'v4') return { v4: s.value };
  if (s.type === 'v6') return { v6: s.value };
  return { v4: s.value.v4, v6: s.value.v6 };
}

function remove<T>(list: T[], match: (x: T) => boolean): void {
  for (let i = list.length - 1; i >= 0; i--) if (match(list[i] as T)) list.splice(i, 1);
}

function pickTop<T extends { id: string; name: string }>(
  type: ResourceType,
  ref: string,
  all: T[],
): T {
  const byId = isUuid(ref);
  const found = all.find((x) => (byId ? x.id === ref : x.name === ref));
  if (!found) throw notFound(type, byId ? 'id' : 'name', ref);
  return found;
}

const LABELS: Partial<Record<ResourceType, string>> = {
  'instance-network-interface': 'network interface',
  'vpc-subnet': 'subnet',
  'vpc-router': 'router',
  'router-route': 'route',
  'floating-ip': 'floating IP',
};

/**
 * Nexus' selector rule: an id must come alone; a name needs its parent selector (itself resolved
 * by the same rule).
 */
function pick<T extends { id: string; name: string }>(
  type: ResourceType,
  ref: string,
  parents: Record<string, string | undefined>,
  all: T[],
  inParent: () => T[],
): T {
  const label = LABELS[type] ?? type;
  const names = Object.keys(parents);
  if (isUuid(ref)) {
    if (names.some((n) => parents[n] !== undefined)) {
      throw invalidRequest(
        `when providing ${label} as an ID ${names.join(' and ')} should not be specified`,
      );
    }
    return pickTop(type, ref, all);
  }
  if (parents[names[0] as string] === undefined) {
    throw invalidRequest(`${label} should either be UUID or ${names[0]} should be specified`);
  }
  const found = inParent().find((x) => x.name === ref);
  if (!found) throw notFound(type, 'name', ref);
  return found;
}
