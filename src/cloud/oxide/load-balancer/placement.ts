// Step 4, placement: which Node's instance each FIP is attached to (target.ts chooses), within
// Oxide's hard limits (the FIP's family on the primary NIC, 32 external IPs per instance), and
// the move there. Targets chosen but not yet attached count as load, so that concurrent
// reconciles spread rather than all pick the same emptiest Node.
import type { V1Node } from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import type { Logger } from '../../../log.ts';
import type { OxideClient } from '../../../oxide/client.ts';
import { listInstanceExternalIps } from '../../../oxide/instances.ts';
import { parseProviderID } from '../provider-id.ts';
import type { IpVersion } from './annotations.ts';
import type { FloatingIps } from './floating-ips.ts';
import { familyOf } from './spec.ts';
import type { PrimaryNics } from './target-nics.ts';
import { chooseTarget } from './target.ts';

/** Oxide: at most 32 external IPs (floating + ephemeral; SNAT is extra) per instance. */
export const MAX_EXTERNAL_IPS_PER_INSTANCE = 32;

export interface Candidate {
  nodeName: string;
  instanceId: string;
  node: V1Node;
}

/** The Nodes handed in, with their instance ids; a Node without an Oxide providerID is skipped. */
export function candidatesOf(nodes: readonly V1Node[], log: Logger): Candidate[] {
  const out: Candidate[] = [];
  for (const node of nodes) {
    const nodeName = node.metadata?.name ?? '';
    try {
      out.push({ nodeName, instanceId: parseProviderID(node.spec?.providerID ?? ''), node });
    } catch (err) {
      log.warn({ node: nodeName, err: String(err) }, 'skipping Node without an Oxide providerID');
    }
  }
  return out;
}

export class Placement {
  private readonly client: OxideClient;
  private readonly log: Logger;
  private readonly nics: PrimaryNics;
  private readonly fips: FloatingIps;
  /** Targets chosen whose attach is still under way (FIP id → instance id). */
  private readonly attaching = new Map<string, string>();

  constructor(client: OxideClient, log: Logger, nics: PrimaryNics, fips: FloatingIps) {
    this.client = client;
    this.log = log;
    this.nics = nics;
    this.fips = fips;
  }

  /** Attaches the FIP to its target (moving it when needed) and returns its new state. */
  async place(
    fip: FloatingIp,
    serviceKey: string,
    candidates: readonly Candidate[],
    all: readonly FloatingIp[],
    signal?: AbortSignal,
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
          const floating = load().get(c.instanceId) ?? 0;
          if (!(await this.accepts(c.instanceId, family, floating, signal))) {
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
      if (fip.instanceId) await this.fips.detach(fip, signal);
      attached = await this.fips.attach(fip, target.instanceId, signal);
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
    for (const f of this.fips.current(fallback)) if (f.instanceId) where.set(f.id, f.instanceId);
    for (const [id, instanceId] of this.attaching) where.set(id, instanceId);
    where.delete(fipId);
    const load = new Map<string, number>();
    for (const instanceId of where.values()) load.set(instanceId, (load.get(instanceId) ?? 0) + 1);
    return load;
  }

  /** Hard limits of a target: primary NIC family, 32 external IPs (ephemeral checked only near it). */
  private async accepts(
    instanceId: string,
    family: IpVersion,
    floating: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    if (floating + 1 > MAX_EXTERNAL_IPS_PER_INSTANCE) return false;
    if (floating + 1 === MAX_EXTERNAL_IPS_PER_INSTANCE) {
      const external = await listInstanceExternalIps(this.client, instanceId, signal);
      if (external.some((e) => e.kind === 'ephemeral')) return false;
    }
    const nic = await this.nics.get(instanceId, signal);
    return nic !== undefined && nic.families.has(family);
  }
}
