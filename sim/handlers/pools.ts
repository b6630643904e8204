// IP pools as the silo sees them (GET /v1/ip-pools lists silo-linked pools with is_default).
import type { SiloIpPool, SiloIpPoolResultsPage } from '@oxide/api';
import { badInput } from '../errors.ts';
import { endpoint, optionalQuery, param, reply, type Route } from '../http.ts';
import { paginate } from '../pagination.ts';

export const poolRoutes: Route[] = [
  endpoint('GET', '/v1/ip-pools', 'ip_pool_list', (ctx) => {
    const version = optionalQuery(ctx, 'ip_version');
    const type = optionalQuery(ctx, 'pool_type');
    if (version !== undefined && version !== 'v4' && version !== 'v6') {
      throw badInput(`unable to parse query string: unknown variant \`${version}\``);
    }
    if (type !== undefined && type !== 'unicast' && type !== 'multicast') {
      throw badInput(`unable to parse query string: unknown variant \`${type}\``);
    }
    const all = ctx.db.pools
      .map((p) => p.pool)
      .filter(
        (p) =>
          (version === undefined || p.ipVersion === version) &&
          (type === undefined || p.poolType === type),
      );
    return reply<SiloIpPoolResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('GET', '/v1/ip-pools/{pool}', 'ip_pool_view', (ctx) =>
    reply<SiloIpPool>(200, ctx.db.pool(param(ctx, 'pool')).pool),
  ),
];
