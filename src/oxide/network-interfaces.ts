// Network interface (NIC) calls: an instance's own list, and a VPC subnet's list (the inventory
// walks every subnet of the project to answer NIC lookups for all instances at once).
import type { InstanceNetworkInterface } from '@oxide/api';
import type { OxideClient } from './client.ts';

/** Every NIC of an instance (every page, at most 8 NICs exist), in the API's order. */
export function listInstanceNics(
  client: OxideClient,
  instanceId: string,
  signal?: AbortSignal,
): Promise<InstanceNetworkInterface[]> {
  return client.listAll<InstanceNetworkInterface>(
    'instance_network_interface_list',
    (api, pageToken, limit, params) =>
      api.methods.instanceNetworkInterfaceList(
        { query: { instance: instanceId, limit, pageToken } },
        params,
      ),
    signal,
    { boundedCollection: true },
  );
}

/** Every NIC in a subnet, in id order. */
export function listSubnetNics(
  client: OxideClient,
  subnetId: string,
  signal?: AbortSignal,
): Promise<InstanceNetworkInterface[]> {
  return client.listAll<InstanceNetworkInterface>(
    'vpc_subnet_list_network_interfaces',
    (api, pageToken, limit, params) =>
      api.methods.vpcSubnetListNetworkInterfaces(
        // NIC names repeat across instances (net0 on each): by name, a page boundary among
        // equal names would skip NICs. Ids are unique.
        { path: { subnet: subnetId }, query: { limit, pageToken, sortBy: 'id_ascending' } },
        params,
      ),
    signal,
  );
}
