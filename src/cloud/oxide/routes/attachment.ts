// Step 4, the router's attachment to the subnet of the target's primary NIC: one subnet view,
// and one update when the subnet has no custom router. Someone may detach our router, so a
// subnet seen attached is rechecked after ATTACHMENT_TTL_MS (one view). Nodes on one subnet
// joining together share one view and one update. A subnet holding another custom router is
// refused (ownership.ts), never changed.
import type { VpcRouter } from '@oxide/api';
import type { OxideClient } from '../../../oxide/client.ts';
import { attachSubnetRouter, viewSubnet } from '../../../oxide/subnets.ts';
import { TtlCache } from '../../../util/ttl-cache.ts';
import { subnetAttachment } from './ownership.ts';

const ATTACHMENT_TTL_MS = 60_000;

export class SubnetAttachments {
  private readonly client: OxideClient;
  /**
   * By subnet and router id: a router made again (ours was deleted behind our back) has a new
   * id, so its attachment is checked afresh without anyone clearing the old entries.
   */
  private readonly attached = new TtlCache<string, true>({
    ttlMs: ATTACHMENT_TTL_MS,
    dropAtExpiry: true,
  });

  constructor(client: OxideClient) {
    this.client = client;
  }

  /** Shared by concurrent callers: it runs unbound by any caller's signal (the client's fence still ends it). */
  async ensure(subnetId: string, router: VpcRouter, signal?: AbortSignal): Promise<void> {
    await this.attached.get(`${subnetId}/${router.id}`, () => this.attach(subnetId, router), {
      signal,
    });
  }

  private async attach(subnetId: string, router: VpcRouter): Promise<true> {
    const subnet = await viewSubnet(this.client, subnetId);
    switch (subnetAttachment(subnet, router)) {
      case 'free':
        await attachSubnetRouter(this.client, subnetId, router.id);
        return true;
      case 'ours':
        return true;
      case 'another':
        throw new Error(
          `VPC subnet ${subnet.name} already has custom router ${subnet.customRouterId}; a ` +
            'subnet takes one custom router and this controller never replaces another one ' +
            `(wanted ${router.name})`,
        );
    }
  }
}
