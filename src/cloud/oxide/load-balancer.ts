// `type: LoadBalancer` on Oxide: one floating IP per Service (two for dual-stack), 1:1-NATed to one
// target Node's instance. A drop-in for the Go CCM v0.7.1 (same FIP names, description,
// annotations, status), plus healthy-target failover, spread, dual-stack, firewall rules and a
// user-owned FIP. ensureLoadBalancer reads as a pipeline:
//   spec (from the Service, may reject it) → the shared FIP view → drop stale FIPs → per FIP:
//   create or adopt or recreate → choose target → attach → firewall → status.
// Calls per reconcile: only what changes. The project's FIP list (it carries instance_id) is one
// process-wide view (FloatingIpView) that all reconciles share for floatingIpTtlMs, so a pass
// over every Service lists once, not once per Service. Our own writes go through to the view at
// once; a change made by anyone else is seen within floatingIpTtlMs (default 1 s), or at once when
// one of our writes trips over it: ObjectAlreadyExists on create, a 400 on attach or delete, a 404
// on attach or detach throw the view away and run the reconcile once more on a fresh list.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { AddressAllocator, FloatingIp } from '@oxide/api';
import type { Logger } from '../../log.ts';
import { silentLogger } from '../../log.ts';
import type { OxideClient } from '../../oxide/client.ts';
import { isNotFound, isOxideError } from '../../oxide/errors.ts';
import {
  FloatingIpView,
  IpPoolCache,
  attachFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  detachFloatingIp,
} from '../../oxide/floating-ips.ts';
import { InvalidServiceConfigError } from '../provider.ts';
import type { LoadBalancer, LoadBalancerIngress, LoadBalancerStatus } from '../provider.ts';
import {
  FLOATING_IP_NAME,
  FLOATING_IP_POOL,
  readFirewall,
  readFloatingIpName,
} from './annotations.ts';
import type { IpVersion } from './annotations.ts';
import { FirewallManager } from './firewall.ts';
import { desiredFirewallRules, firewallRuleBase, validateSourceRanges } from './firewall-rules.ts';
import {
  FLOATING_IP_DESCRIPTION,
  canonicalIp,
  familyOf,
  loadBalancerName,
  loadBalancerSpec,
  secondFamilyName,
} from './load-balancer-spec.ts';
import type { Allocation, DesiredFloatingIp, LoadBalancerSpec } from './load-balancer-spec.ts';
import { parseProviderID } from './provider-id.ts';
import { PrimaryNicCache } from './target-nics.ts';
import { InstanceInventory } from '../../oxide/inventory.ts';
import { chooseTarget } from './target.ts';

/** Oxide: at most 32 external IPs (floating + ephemeral; SNAT is extra) per instance. */
export const MAX_EXTERNAL_IPS_PER_INSTANCE = 32;

export interface OxideLoadBalancerOptions {
  client: OxideClient;
  /** Default of annotation oxide.computer/firewall. */
  firewall?: boolean;
  logger?: Logger;
  poolCacheTtlMs?: number;
  /** The provider's shared instance and NIC views; its own when omitted. */
  inventory?: InstanceInventory;
  firewallSnapshotTtlMs?: number;
  /**
   * How long one FIP list serves every reconcile (ms; 0 lists on each). Bounds how late a change
   * made outside this process (a user's edit) is seen; our own writes are seen at once.
   */
  floatingIpTtlMs?: number;
}

/** A write failed in a way the view cannot explain: someone else changed the FIPs. */
class StaleViewError extends Error {
  override readonly name = 'StaleViewError';
}

function staleView(err: unknown): StaleViewError {
  return new StaleViewError(err instanceof Error ? err.message : String(err), { cause: err });
}

interface Candidate {
  nodeName: string;
  instanceId: string;
  node: V1Node;
}

type Mode = 'ensure' | 'update';

export class OxideLoadBalancer implements LoadBalancer {
  private readonly client: OxideClient;
  private readonly firewallDefault: boolean;
  private readonly log: Logger;
  private readonly pools: IpPoolCache;
  private readonly nics: PrimaryNicCache;
  private readonly firewall: FirewallManager;
  private readonly fips: FloatingIpView;
  /**
   * Targets chosen whose attach is still under way (FIP id → instance id), counted as load so
   * that concurrent reconciles spread rather than all pick the same emptiest Node.
   */
  private readonly attaching = new Map<string, string>();
  /**
   * Last Node seen per instance id: when no Node is eligible the FIP stays where it is, and its
   * status still needs that Node's InternalIPs.
   */
  private readonly lastNodes = new Map<string, V1Node>();

  constructor(options: OxideLoadBalancerOptions) {
    this.client = options.client;
    this.firewallDefault = options.firewall ?? false;
    this.log = options.logger ?? silentLogger;
    this.pools = new IpPoolCache(options.client, options.poolCacheTtlMs);
    this.nics = new PrimaryNicCache(options.inventory ?? new InstanceInventory(options.client));
    this.firewall = new FirewallManager(options.client, { ttlMs: options.firewallSnapshotTtlMs });
    this.fips = new FloatingIpView(options.client, { ttlMs: options.floatingIpTtlMs });
  }

  getLoadBalancerName(clusterName: string, service: V1Service): string {
    return loadBalancerName(clusterName, service);
  }

  /**
   * The FIPs the Service has, or undefined when it has none. Without the Node list this cannot
   * name the target's InternalIPs; the service controller takes status from ensure/update.
   */
  async getLoadBalancer(
    clusterName: string,
    service: V1Service,
  ): Promise<LoadBalancerStatus | undefined> {
    const fips = await this.fips.list();
    const mine = this.candidateNames(clusterName, service);
    const found = fips.filter((f) => mine.has(f.name) || mine.has(f.id));
    if (found.length === 0) return undefined;
    return { ingress: found.map((f) => ({ ip: f.ip, ipMode: 'Proxy' as const })) };
  }

  ensureLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
  ): Promise<LoadBalancerStatus> {
    return this.sync('ensure', clusterName, service, nodes);
  }

  /** Re-targets (and creates a missing FIP); never recreates or drops FIPs: that is ensure's job. */
  updateLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
  ): Promise<LoadBalancerStatus> {
    return this.sync('update', clusterName, service, nodes);
  }

  /**
   * Lists afresh rather than from the view: it is the last call for the Service, and a FIP created
   * elsewhere within the view's TTL (a previous leader's) would otherwise leak.
   */
  ensureLoadBalancerDeleted(clusterName: string, service: V1Service): Promise<void> {
    return this.retryOnStaleView((fips) => this.deleteFrom(fips, clusterName, service), true);
  }

  private async deleteFrom(
    fips: readonly FloatingIp[],
    clusterName: string,
    service: V1Service,
  ): Promise<void> {
    const base = loadBalancerName(clusterName, service);
    const owned = new Set([base, secondFamilyName(base, 'v4'), secondFamilyName(base, 'v6')]);
    const userResult = readFloatingIpName(service.metadata?.annotations);
    const userName = 'value' in userResult ? userResult.value : undefined;
    const mine = fips.filter(
      (f) =>
        owned.has(f.name) || (userName !== undefined && (f.name === userName || f.id === userName)),
    );

    // Firewall first: the attachments tell which VPC holds the rules.
    const ruleBase = firewallRuleBase(base);
    const vpcs = new Set(this.firewall.knownVpcs());
    const fw = readFirewall(service.metadata?.annotations);
    if (('value' in fw ? fw.value : undefined) ?? this.firewallDefault) {
      for (const f of mine) {
        if (f.instanceId) {
          const nic = await this.nics.get(f.instanceId);
          if (nic) vpcs.add(nic.vpcId);
        }
      }
    }
    for (const vpc of vpcs) {
      if (this.firewall.mayOwnRules(vpc, ruleBase))
        await this.firewall.reconcile(vpc, ruleBase, []);
    }

    for (const fip of mine) {
      if (owned.has(fip.name)) await this.release(fip);
      else if (fip.instanceId) await this.detachUserOwned(fip);
    }
  }

  private candidateNames(clusterName: string, service: V1Service): Set<string> {
    const base = loadBalancerName(clusterName, service);
    const names = new Set([base]);
    try {
      const spec = loadBalancerSpec(clusterName, service, this.firewallDefault);
      for (const d of spec.floatingIps) names.add(d.name);
    } catch (err) {
      if (!(err instanceof InvalidServiceConfigError)) throw err;
    }
    return names;
  }

  /**
   * Runs `reconcile` on the view; when a write trips over a change the view did not show, once
   * more on a fresh list (then the error stands). `fresh`: the first run lists afresh too.
   */
  private async retryOnStaleView<T>(
    reconcile: (fips: FloatingIp[]) => Promise<T>,
    fresh = false,
  ): Promise<T> {
    try {
      return await reconcile(await this.fips.list({ fresh }));
    } catch (err) {
      if (!(err instanceof StaleViewError)) throw err;
      this.log.info({ err: err.message }, 'floating IPs changed elsewhere; listing them again');
      this.fips.invalidate();
    }
    try {
      return await reconcile(await this.fips.list({ fresh: true }));
    } catch (err) {
      throw err instanceof StaleViewError ? err.cause : err;
    }
  }

  private async sync(
    mode: Mode,
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
  ): Promise<LoadBalancerStatus> {
    const spec = loadBalancerSpec(clusterName, service, this.firewallDefault);
    if (spec.firewall) validateSourceRanges(service);
    const candidates = this.candidates(nodes);
    // Everything that can reject the Service is checked before the first write.
    for (const d of spec.floatingIps) await this.checkPoolFamily(d);
    return this.retryOnStaleView((fips) => this.reconcile(mode, spec, service, candidates, fips));
  }

  private async reconcile(
    mode: Mode,
    spec: LoadBalancerSpec,
    service: V1Service,
    candidates: readonly Candidate[],
    fips: FloatingIp[],
  ): Promise<LoadBalancerStatus> {
    const byName = (name: string) => fips.find((f) => f.name === name || f.id === name);
    const replace = (old: FloatingIp | undefined, next: FloatingIp | undefined) => {
      const i = old ? fips.indexOf(old) : -1;
      if (i >= 0) fips.splice(i, 1);
      if (next) fips.push(next);
    };

    if (mode === 'ensure') {
      for (const name of spec.staleNames) {
        const stale = byName(name);
        if (stale) {
          this.log.info(
            { floatingIp: stale.name },
            'deleting floating IP the Service no longer uses',
          );
          await this.release(stale);
          replace(stale, undefined);
        }
      }
    }

    const serviceKey =
      service.metadata?.uid ?? `${service.metadata?.namespace}/${service.metadata?.name}`;
    const placed: FloatingIp[] = [];
    for (const d of spec.floatingIps) {
      let fip = byName(d.name);
      if (!d.owned && !fip) {
        // The user may have just made it: the retry on a fresh list tells.
        throw staleView(
          new Error(
            `floating IP ${JSON.stringify(d.name)} (annotation ${FLOATING_IP_NAME.name}) does ` +
              `not exist in project ${this.client.project}`,
          ),
        );
      }
      if (fip && d.owned && mode === 'ensure' && (await this.needsRecreate(fip, d.allocation))) {
        this.log.info(
          { floatingIp: fip.name, ip: fip.ip },
          'recreating floating IP: allocation changed',
        );
        await this.release(fip);
        replace(fip, undefined);
        fip = undefined;
      }
      if (!fip) {
        fip = await this.create(d);
        replace(undefined, fip);
      }
      const next = await this.place(fip, serviceKey, candidates, fips);
      replace(fip, next);
      placed.push(next);
    }

    await this.syncFirewall(service, spec.baseName, spec.firewall, placed);
    return this.status(placed);
  }

  private candidates(nodes: readonly V1Node[]): Candidate[] {
    const out: Candidate[] = [];
    for (const node of nodes) {
      const nodeName = node.metadata?.name ?? '';
      try {
        const instanceId = parseProviderID(node.spec?.providerID ?? '');
        out.push({ nodeName, instanceId, node });
        this.lastNodes.set(instanceId, node);
      } catch (err) {
        this.log.warn(
          { node: nodeName, err: String(err) },
          'skipping Node without an Oxide providerID',
        );
      }
    }
    return out;
  }

  /** A pool serving the primary family of a dual-stack Service must be of that family. */
  private async checkPoolFamily(d: DesiredFloatingIp): Promise<void> {
    if (d.allocation?.type !== 'pool' || d.family === undefined) return;
    const pool = await this.pools.get(d.allocation.pool);
    if (pool.ipVersion !== d.family) {
      throw new InvalidServiceConfigError(
        `annotation ${FLOATING_IP_POOL.name}: pool ${d.allocation.pool} is ${pool.ipVersion} but ` +
          `the Service's primary IP family is ${d.family}`,
      );
    }
  }

  /** The Go CCM's floatingIPNeedsRecreate: other address, other pool, other version. */
  private async needsRecreate(
    fip: FloatingIp,
    allocation: Allocation | undefined,
  ): Promise<boolean> {
    switch (allocation?.type) {
      case 'explicit':
        return canonicalIp(fip.ip) !== canonicalIp(allocation.ip);
      case 'pool':
        return fip.ipPoolId !== (await this.pools.get(allocation.pool)).id;
      case 'default':
        return allocation.version !== undefined && familyOf(fip.ip) !== allocation.version;
      default:
        return false;
    }
  }

  private async create(d: DesiredFloatingIp): Promise<FloatingIp> {
    const addressAllocator = toAddressAllocator(d.allocation);
    try {
      const fip = await createFloatingIp(this.client, {
        name: d.name,
        description: FLOATING_IP_DESCRIPTION,
        addressAllocator,
      });
      this.fips.put(fip);
      this.log.info({ floatingIp: fip.name, ip: fip.ip }, 'created floating IP');
      return fip;
    } catch (err) {
      // A retried create whose first attempt succeeded, or another creator: the fresh list shows
      // it and the retry adopts it. Not there even then: the address, not the name, is taken.
      if (isOxideError(err, 'already_exists')) throw staleView(err);
      throw err;
    }
  }

  /** Attaches the FIP to its target (moving it when needed) and returns its new state. */
  private async place(
    fip: FloatingIp,
    serviceKey: string,
    candidates: readonly Candidate[],
    all: readonly FloatingIp[],
  ): Promise<FloatingIp> {
    // No eligible Node: keep whatever attachment there is rather than detaching to nowhere.
    if (candidates.length === 0) return fip;
    const family = familyOf(fip.ip);
    const load = () => this.loadExcept(fip.id, all);
    let target: Candidate | undefined;
    try {
      target = await chooseTarget({
        serviceKey,
        candidates,
        current: fip.instanceId ?? undefined,
        load,
        accepts: async (c) => {
          if (!(await this.accepts(c.instanceId, family, load().get(c.instanceId) ?? 0))) {
            return false;
          }
          // Reserved before anything else runs, so concurrent reconciles count it as load.
          if (c.instanceId !== fip.instanceId) this.attaching.set(fip.id, c.instanceId);
          return true;
        },
      });
    } catch (err) {
      this.attaching.delete(fip.id);
      throw err;
    }
    if (!target) {
      this.attaching.delete(fip.id);
      throw new Error(
        `no eligible Node can take floating IP ${fip.name} (${fip.ip}): each lacks a ${family} ` +
          `address on its primary NIC or has ${MAX_EXTERNAL_IPS_PER_INSTANCE} external IPs`,
      );
    }
    if (fip.instanceId === target.instanceId) {
      this.attaching.delete(fip.id);
      return fip;
    }
    this.attaching.set(fip.id, target.instanceId);
    let attached: FloatingIp;
    try {
      if (fip.instanceId) await this.detach(fip);
      attached = await this.attach(fip, target.instanceId);
    } finally {
      if (this.attaching.get(fip.id) === target.instanceId) this.attaching.delete(fip.id);
    }
    this.log.info(
      { floatingIp: fip.name, ip: fip.ip, node: target.nodeName, from: fip.instanceId ?? null },
      'attached floating IP',
    );
    return attached;
  }

  /**
   * FIPs per instance from the shared view rather than this reconcile's copy (it has other
   * reconciles' attachments since), plus targets chosen but not yet attached; `fipId` excluded.
   */
  private loadExcept(fipId: string, fallback: readonly FloatingIp[]): Map<string, number> {
    const where = new Map<string, string>();
    for (const f of this.fips.cached() ?? fallback) if (f.instanceId) where.set(f.id, f.instanceId);
    for (const [id, instanceId] of this.attaching) where.set(id, instanceId);
    where.delete(fipId);
    const load = new Map<string, number>();
    for (const instanceId of where.values()) load.set(instanceId, (load.get(instanceId) ?? 0) + 1);
    return load;
  }

  /** Hard limits of a target: primary NIC family, 32 external IPs (ephemeral checked only near it). */
  private async accepts(instanceId: string, family: IpVersion, floating: number): Promise<boolean> {
    if (floating + 1 > MAX_EXTERNAL_IPS_PER_INSTANCE) return false;
    if (floating + 1 === MAX_EXTERNAL_IPS_PER_INSTANCE) {
      const external = await this.client.listInstanceExternalIps(instanceId);
      if (external.some((e) => e.kind === 'ephemeral')) return false;
    }
    const nic = await this.nics.get(instanceId);
    return nic !== undefined && nic.families.has(family);
  }

  /** A user's FIP is left to them: detached only, and already gone is fine. */
  private async detachUserOwned(fip: FloatingIp): Promise<void> {
    try {
      this.fips.put(await detachFloatingIp(this.client, fip.id));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.fips.remove(fip.id);
      this.fips.invalidate();
    }
  }

  /** Gone (404), or attached elsewhere meanwhile (400): someone else's change. */
  private async attach(fip: FloatingIp, instanceId: string): Promise<FloatingIp> {
    try {
      const attached = await attachFloatingIp(this.client, fip.id, instanceId);
      this.fips.put(attached);
      return attached;
    } catch (err) {
      if (isNotFound(err) || isOxideError(err, 'invalid')) throw staleView(err);
      throw err;
    }
  }

  /** Detaching to move it: gone (404) means the view is stale. */
  private async detach(fip: FloatingIp): Promise<void> {
    try {
      this.fips.put(await detachFloatingIp(this.client, fip.id));
    } catch (err) {
      if (isNotFound(err)) throw staleView(err);
      throw err;
    }
  }

  /**
   * Detach and delete an owned FIP. Already gone is the goal reached (the view learns it); still
   * attached (a 400: someone attached it since) is a stale view.
   */
  private async release(fip: FloatingIp): Promise<void> {
    try {
      if (fip.instanceId) this.fips.put(await detachFloatingIp(this.client, fip.id));
      await deleteFloatingIp(this.client, fip.id);
      this.fips.remove(fip.id);
      this.log.info({ floatingIp: fip.name, ip: fip.ip }, 'deleted floating IP');
    } catch (err) {
      if (isNotFound(err)) {
        this.fips.remove(fip.id);
        this.fips.invalidate();
        return;
      }
      if (isOxideError(err, 'invalid')) throw staleView(err);
      throw err;
    }
  }

  private async syncFirewall(
    service: V1Service,
    baseName: string,
    enabled: boolean,
    placed: readonly FloatingIp[],
  ): Promise<void> {
    const ruleBase = firewallRuleBase(baseName);
    const ipsByVpc = new Map<string, string[]>();
    if (enabled) {
      for (const instanceId of new Set(placed.map((f) => f.instanceId).filter((i) => !!i))) {
        const nic = await this.nics.get(instanceId as string);
        if (!nic) continue;
        ipsByVpc.set(nic.vpcId, [...(ipsByVpc.get(nic.vpcId) ?? []), ...nic.ips]);
      }
    }
    for (const [vpc, ips] of ipsByVpc) {
      await this.firewall.reconcile(vpc, ruleBase, desiredFirewallRules(service, baseName, ips));
    }
    // Leftovers: firewall turned off, or the target moved to another VPC.
    for (const vpc of this.firewall.knownVpcs()) {
      if (!ipsByVpc.has(vpc) && this.firewall.mayOwnRules(vpc, ruleBase)) {
        await this.firewall.reconcile(vpc, ruleBase, []);
      }
    }
  }

  /**
   * Go CCM order: each FIP with ipMode Proxy (the address is NATed, not a VIP the node may claim),
   * then the target Nodes' InternalIPs. Oxide NAT delivers packets to the node's private address,
   * so kube-proxy must treat those addresses as load-balancer ingress too.
   */
  private status(placed: readonly FloatingIp[]): LoadBalancerStatus {
    const ingress: LoadBalancerIngress[] = placed.map((f) => ({ ip: f.ip, ipMode: 'Proxy' }));
    const seen = new Set<string>();
    for (const fip of placed) {
      const node = fip.instanceId ? this.lastNodes.get(fip.instanceId) : undefined;
      for (const address of node?.status?.addresses ?? []) {
        if (address.type === 'InternalIP' && !seen.has(address.address)) {
          seen.add(address.address);
          ingress.push({ ip: address.address });
        }
      }
    }
    return { ingress };
  }
}

function toAddressAllocator(allocation: Allocation | undefined): AddressAllocator {
  switch (allocation?.type) {
    case 'explicit':
      return { type: 'explicit', ip: allocation.ip };
    case 'pool':
      return { type: 'auto', poolSelector: { type: 'explicit', pool: allocation.pool } };
    case 'default': {
      const ipVersion = allocation.version ?? allocation.preferVersion;
      return ipVersion
        ? { type: 'auto', poolSelector: { type: 'auto', ipVersion } }
        : { type: 'auto' };
    }
    default:
      return { type: 'auto' };
  }
}
