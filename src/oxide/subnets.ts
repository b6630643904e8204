// VPC subnet calls, by UUID (a UUID plus a parent selector is a 400).
import type { VpcSubnet } from '@oxide/api';
import type { OxideClient } from './client.ts';

/** `boundedCollection`: a short page ends the scan (see OxideClient.listAll). */
export function listSubnets(
  client: OxideClient,
  vpcId: string,
  options: { boundedCollection?: boolean } = {},
  signal?: AbortSignal,
): Promise<VpcSubnet[]> {
  return client.listAll<VpcSubnet>(
    'vpc_subnet_list',
    (api, pageToken, limit, params) =>
      api.methods.vpcSubnetList({ query: { vpc: vpcId, limit, pageToken } }, params),
    signal,
    options,
  );
}

export function viewSubnet(
  client: OxideClient,
  subnetId: string,
  signal?: AbortSignal,
): Promise<VpcSubnet> {
  return client.call(
    'vpc_subnet_view',
    (api, params) => api.methods.vpcSubnetView({ path: { subnet: subnetId } }, params),
    signal,
  );
}

/**
 * Attaches a custom router to a subnet. The update replaces `custom_router` (leaving it out
 * detaches), so it is always sent, and only that field is sent.
 */
export function attachSubnetRouter(
  client: OxideClient,
  subnetId: string,
  routerId: string,
  signal?: AbortSignal,
): Promise<VpcSubnet> {
  return client.call(
    'vpc_subnet_update',
    (api, params) =>
      api.methods.vpcSubnetUpdate(
        { path: { subnet: subnetId }, body: { customRouter: routerId } },
        params,
      ),
    signal,
  );
}

/** Detaches the subnet's custom router: an update without `custom_router` clears it. */
export function detachSubnetRouter(
  client: OxideClient,
  subnetId: string,
  signal?: AbortSignal,
): Promise<VpcSubnet> {
  return client.call(
    'vpc_subnet_update',
    (api, params) => api.methods.vpcSubnetUpdate({ path: { subnet: subnetId }, body: {} }, params),
    signal,
  );
}
