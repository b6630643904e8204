// Two clusters under one --cluster-name in one Oxide project: found from the records themselves
// (a record naming this cluster's name with another cluster's identity; cluster.ts), since the
// default name is "kubernetes" and an operator who runs two clusters may well leave it. Nothing
// of the other cluster is touched either way (the ownership rules see its identity); this is so
// that it is never silent. At start the CCM refuses to run while such a record exists (app.ts:
// one error line, /readyz failing, re-checked until it is gone); found later (the other cluster
// wrote its first record after this one started), it logs one error line and fails /readyz with
// the reason while both keep running, each on its own objects (docs/clusters.md).
import type { Logger } from '../../log.ts';
import type { OxideClient } from '../../oxide/client.ts';
import { listFloatingIps } from '../../oxide/floating-ips.ts';
import { listRouters } from '../../oxide/routers.ts';
import { listVpcs, viewVpcByName } from '../../oxide/vpcs.ts';
import { UNKNOWN_CLUSTER_ID } from './cluster.ts';
import type { ClusterIdentity } from './cluster.ts';
import { otherIdentityNamed, ownerOf } from './load-balancer/owner.ts';
import { routerIdentity, routerOwnership } from './routes/ownership.ts';

export class SharedNameWatch {
  private readonly cluster: ClusterIdentity;
  private readonly log: Logger;
  /**
   * Per place records were read (a project's floating IPs, a VPC's routers): the other identity
   * seen last there, if any.
   */
  private readonly others = new Map<string, string>();

  constructor(cluster: ClusterIdentity, log: Logger) {
    this.cluster = cluster;
    this.log = log;
  }

  /**
   * What the latest look at records in `kind` (`floating IPs in project "p"`, `router in VPC v`)
   * found: another identity under this name, or none.
   */
  seen(kind: string, otherId: string | undefined): void {
    const before = this.others.get(kind);
    if (otherId === before) return;
    if (otherId === undefined) {
      this.others.delete(kind);
      this.log.info({ records: kind }, 'no other cluster uses this cluster name any more');
      return;
    }
    this.others.set(kind, otherId);
    this.log.error(this.describe(kind, otherId));
  }

  /** For /readyz: undefined while no record shows another cluster under this name. */
  problem(): string | undefined {
    const [first] = this.others;
    return first && this.describe(first[0], first[1]);
  }

  /**
   * Looks at each project's records now (a client per configured project) and returns the
   * problem, if any: one floating-IP list, and with `routes` the routers of the VPC named
   * (--oxide-routes-vpc) or of every VPC of the project (one list each), since a cluster with
   * routes and no LoadBalancer yet has only a router to show. The start-up check; the load
   * balancer and the route steps report what they read later.
   */
  async check(
    clients: readonly OxideClient[],
    routes: { vpc?: string | undefined } | undefined,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    for (const client of clients) await this.checkProject(client, routes, signal);
    return this.problem();
  }

  private async checkProject(
    client: OxideClient,
    routes: { vpc?: string | undefined } | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const fips = await listFloatingIps(client, signal);
    this.seen(
      `floating IPs in project ${JSON.stringify(client.project)}`,
      otherIdentityNamed(
        fips.map((f) => ownerOf(f.description)),
        this.cluster,
      ),
    );
    if (routes) {
      const vpcs = routes.vpc
        ? [await viewVpcByName(client, routes.vpc, signal)]
        : await listVpcs(client, { boundedCollection: true }, signal);
      for (const vpc of vpcs) {
        const named = (await listRouters(client, vpc.id, signal)).find(
          (r) => routerOwnership(r, this.cluster) === 'another',
        );
        this.seen(`router in VPC ${vpc.id}`, named && routerIdentity(named));
      }
    }
  }

  private describe(kind: string, otherId: string): string {
    if (this.cluster.id === UNKNOWN_CLUSTER_ID) {
      return (
        `records (${kind}) name a cluster identity (cluster-id=${otherId}) under ` +
        `--cluster-name ${JSON.stringify(this.cluster.name)}, ` +
        "and this cluster's identity is unknown (it cannot read namespace kube-system): grant " +
        'get on namespaces/kube-system (the chart and manifest do) or set --cluster-id'
      );
    }
    return (
      `another cluster (cluster-id=${otherId}) uses --cluster-name ${JSON.stringify(this.cluster.name)} ` +
      `(its ${kind}; this cluster is cluster-id=${this.cluster.id}): give each cluster its own --cluster-name ` +
      "(docs/clusters.md); neither touches the other's objects meanwhile"
    );
  }
}
