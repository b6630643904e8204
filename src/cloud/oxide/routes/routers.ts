// Step 3, the cluster's router per VPC: found by one router list (ownership.ts says which is
// ours) and then known for the process's life, or created when a route needs it. Nodes joining
// together share one creation instead of each creating the router (and all but one failing with
// "already exists"). A router deleted behind our back is forgotten (forget) when a call on it
// answers 404, and the next route creation makes it again. A router of our name whose record
// names another cluster's identity (two clusters of one --cluster-name in a VPC) is never used:
// the call fails saying so, and the shared-name watch hears of it (/readyz). One whose record
// names no identity (v0.8's) gets ours, with one write, when it is found.
import type { VpcRouter } from '@oxide/api';
import type { OxideClient } from '../../../oxide/client.ts';
import { isOxideError } from '../../../oxide/errors.ts';
import { createRouter, listRouters, updateRouterDescription } from '../../../oxide/routers.ts';
import { TtlCache } from '../../../util/ttl-cache.ts';
import { CLUSTER_ID_TOKEN, UNKNOWN_CLUSTER_ID } from '../cluster.ts';
import type { ClusterIdentity } from '../cluster.ts';
import type { SharedNameWatch } from '../same-name.ts';
import { routerDescription, routerName } from './names.ts';
import { routerIdentity, routerOwnership } from './ownership.ts';

export class Routers {
  private readonly client: OxideClient;
  private readonly clusterId: string;
  private readonly sharedName: SharedNameWatch | undefined;
  /** Our router by VPC id; a lookup that found none is not kept, so a later one lists again. */
  private readonly known = new TtlCache<string, VpcRouter | undefined>({
    ttlMs: (router) => (router ? Infinity : 0),
  });
  /** Creations under way by VPC id (kept nowhere once done: `known` holds the result). */
  private readonly creations = new TtlCache<string, VpcRouter | undefined>({ ttlMs: 0 });

  constructor(client: OxideClient, clusterId: string, sharedName?: SharedNameWatch) {
    this.client = client;
    this.clusterId = clusterId;
    this.sharedName = sharedName;
  }

  /** Our router in the VPC, or undefined; never creates one. */
  find(clusterName: string, vpcId: string, signal?: AbortSignal): Promise<VpcRouter | undefined> {
    return this.known.get(vpcId, () => this.lookup(clusterName, vpcId), { signal });
  }

  /**
   * Our router in the VPC, created when missing. The creation is shared (it runs unbound by any
   * caller's signal; the client's fence still ends it) and its result replaces whatever `known`
   * held, so later finds answer from it.
   */
  async ensure(clusterName: string, vpcId: string, signal?: AbortSignal): Promise<VpcRouter> {
    const found = await this.find(clusterName, vpcId, signal);
    if (found) return found;
    const created = await this.creations.get(
      vpcId,
      () => this.known.get(vpcId, () => this.create(clusterName, vpcId), { fresh: true }),
      { signal },
    );
    if (!created) throw new Error(`router ${routerName(clusterName)} could not be created`);
    return created;
  }

  /** The router is gone (a call on it answered 404): the next find lists again. */
  forget(vpcId: string): void {
    this.known.invalidate(vpcId);
  }

  private async lookup(clusterName: string, vpcId: string): Promise<VpcRouter | undefined> {
    const cluster: ClusterIdentity = { name: clusterName, id: this.clusterId };
    const named = (await listRouters(this.client, vpcId)).find(
      (r) => routerOwnership(r, cluster) !== undefined,
    );
    const ownership = named && routerOwnership(named, cluster);
    this.sharedName?.seen(
      `router in VPC ${vpcId}`,
      ownership === 'another' ? routerIdentity(named!) : undefined,
    );
    if (!named || ownership === 'ours') return named;
    if (ownership === 'another') {
      throw new Error(
        `router ${named.name} in VPC ${vpcId} belongs to another cluster ` +
          `(${CLUSTER_ID_TOKEN}${routerIdentity(named)}); its routes are left alone`,
      );
    }
    // v0.8's record: this cluster's identity is written into it once (unless unknown).
    if (this.clusterId === UNKNOWN_CLUSTER_ID) return named;
    return updateRouterDescription(this.client, named.id, routerDescription(cluster));
  }

  private async create(clusterName: string, vpcId: string): Promise<VpcRouter> {
    try {
      return await createRouter(
        this.client,
        vpcId,
        routerName(clusterName),
        routerDescription({ name: clusterName, id: this.clusterId }),
      );
    } catch (err) {
      // Made since our lookup (another process, or a previous leader's lost answer): adopt it.
      if (!isOxideError(err, 'already_exists')) throw err;
      const raced = await this.lookup(clusterName, vpcId);
      if (!raced) throw err;
      return raced;
    }
  }
}
