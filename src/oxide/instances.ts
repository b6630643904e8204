// Instance calls, each through the shared client's `call`/`listAll` (timeouts, retries, metrics,
// typed errors). By UUID without the project selector (a UUID plus a parent selector is a 400).
import type { ExternalIp, Instance } from '@oxide/api';
import type { OxideClient } from './client.ts';

/** All instances of the project (every page). */
export function listInstances(client: OxideClient, signal?: AbortSignal): Promise<Instance[]> {
  return client.listAll<Instance>(
    'instance_list',
    (api, pageToken, limit, params) =>
      api.methods.instanceList(
        { query: { project: client.project, limit, pageToken, sortBy: 'id_ascending' } },
        params,
      ),
    signal,
  );
}

export function viewInstanceById(
  client: OxideClient,
  id: string,
  signal?: AbortSignal,
): Promise<Instance> {
  return client.call(
    'instance_view',
    (api, params) => api.methods.instanceView({ path: { instance: id } }, params),
    signal,
  );
}

export function viewInstanceByName(
  client: OxideClient,
  name: string,
  signal?: AbortSignal,
): Promise<Instance> {
  return client.call(
    'instance_view',
    (api, params) =>
      api.methods.instanceView(
        { path: { instance: name }, query: { project: client.project } },
        params,
      ),
    signal,
  );
}

/** Ephemeral, floating and SNAT addresses of an instance (the endpoint is not paginated). */
export async function listInstanceExternalIps(
  client: OxideClient,
  instanceId: string,
  signal?: AbortSignal,
): Promise<ExternalIp[]> {
  const page = await client.call(
    'instance_external_ip_list',
    (api, params) => api.methods.instanceExternalIpList({ path: { instance: instanceId } }, params),
    signal,
  );
  return page.items;
}
