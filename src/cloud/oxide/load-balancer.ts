// `type: LoadBalancer` on Oxide: one floating IP per Service (two for dual-stack), 1:1-NATed to one
// target Node's instance. A drop-in for the Go CCM v0.7.1 (same FIP names, description,
// annotations, status), plus healthy-target failover, spread, dual-stack, firewall rules and a
// user-owned FIP. ensureLoadBalancer reads as a pipeline:
//   spec (from the Service, may reject it) → one FIP list → drop stale FIPs → per FIP: create or
//   adopt or recreate → choose target → attach → firewall → status.
// Calls per reconcile: floating_ip_list once (it carries instance_id), plus only what changes.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { AddressAllocator, FloatingIp } from '@oxide/api';
import type { Logger } from '../../log.ts';
import { silentLogger } from '../../log.ts';
import type { OxideClient } from '../../oxide/client.ts';
import { isNotFound, isOxideError } from '../../oxide/errors.ts';
import {
  IpPoolCache,
  attachFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  detachFloatingIp,
  listFloatingIps,
  viewFloatingIp,
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
import type { Allocation, DesiredFloatingIp } from './load-balancer-spec.ts';
import { parseProviderID } from './provider-id.ts';
import { PrimaryNicCache } from './target-nics.ts';
import { chooseTarget } from './target.ts';

/** Oxide: at most 32 external IPs (floating + ephemeral; SNAT is extra) per instance. */
export const MAX_EXTERNAL_IPS_PER_INSTANCE = 32;

export interface OxideLoadBalancerOptions {
  client: OxideClient;
  /** Default of annotation oxide.computer/firewall. */
  firewall?: boolean;
  logger?: Logger;
  poolCacheTtlMs?: number;
  nicCacheTtlMs?: number;
  firewallSnapshotTtlMs?: number;
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
    this.nics = new PrimaryNicCache(options.client, options.nicCacheTtlMs);
    this.firewall = new FirewallManager(options.client, { ttlMs: options.firewallSnapshotTtlMs });
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
    const fips = await listFloatingIps(this.client);
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

  async ensureLoadBalancerDeleted(clusterName: string, service: V1Service): Promise<void> {
    const fips = await listFloatingIps(this.client);
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
      else if (fip.instanceId) await this.detach(fip);
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

  private async sync(
    mode: Mode,
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
  ): Promise<LoadBalancerStatus> {
    const spec = loadBalancerSpec(clusterName, service, this.firewallDefault);
    if (spec.firewall) validateSourceRanges(service);
    const candidates = this.candidates(nodes);
    const fips = await listFloatingIps(this.client);
    const byName = (name: string) => fips.find((f) => f.name === name || f.id === name);
    const replace = (old: FloatingIp | undefined, next: FloatingIp | undefined) => {
      const i = old ? fips.indexOf(old) : -1;
      if (i >= 0) fips.splice(i, 1);
      if (next) fips.push(next);
    };

    // Everything that can reject the Service is checked before the first write.
    for (const d of spec.floatingIps) await this.checkPoolFamily(d);

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
        throw new Error(
          `floating IP ${JSON.stringify(d.name)} (annotation ${FLOATING_IP_NAME.name}) does not ` +
            `exist in project ${this.client.project}`,
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
      this.log.info({ floatingIp: fip.name, ip: fip.ip }, 'created floating IP');
      return fip;
    } catch (err) {
      // A retried create whose first attempt succeeded, or a concurrent creator: adopt it.
      if (!isOxideError(err, 'already_exists')) throw err;
      try {
        return await viewFloatingIp(this.client, d.name);
      } catch (viewErr) {
        if (isNotFound(viewErr)) throw err; // the address, not the name, is taken
        throw viewErr;
      }
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
    const load = new Map<string, number>();
    for (const other of all) {
      if (other.id !== fip.id && other.instanceId) {
        load.set(other.instanceId, (load.get(other.instanceId) ?? 0) + 1);
      }
    }
    const target = await chooseTarget({
      serviceKey,
      candidates,
      current: fip.instanceId ?? undefined,
      load,
      accepts: (c) => this.accepts(c.instanceId, family, load.get(c.instanceId) ?? 0),
    });
    if (!target) {
      throw new Error(
        `no eligible Node can take floating IP ${fip.name} (${fip.ip}): each lacks a ${family} ` +
          `address on its primary NIC or has ${MAX_EXTERNAL_IPS_PER_INSTANCE} external IPs`,
      );
    }
    if (fip.instanceId === target.instanceId) return fip;
    if (fip.instanceId) await this.detach(fip);
    const attached = await attachFloatingIp(this.client, fip.id, target.instanceId);
    this.log.info(
      { floatingIp: fip.name, ip: fip.ip, node: target.nodeName, from: fip.instanceId ?? null },
      'attached floating IP',
    );
    return attached;
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

  private async detach(fip: FloatingIp): Promise<void> {
    try {
      await detachFloatingIp(this.client, fip.id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Detach and delete an owned FIP; already gone is fine. */
  private async release(fip: FloatingIp): Promise<void> {
    if (fip.instanceId) await this.detach(fip);
    try {
      await deleteFloatingIp(this.client, fip.id);
      this.log.info({ floatingIp: fip.name, ip: fip.ip }, 'deleted floating IP');
    } catch (err) {
      if (!isNotFound(err)) throw err;
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
