// VPC calls. The lookup by name needs the project; everything below a VPC goes by its UUID.
import type { Vpc } from '@oxide/api';
import type { OxideClient } from './client.ts';

export function viewVpcByName(
  client: OxideClient,
  name: string,
  signal?: AbortSignal,
): Promise<Vpc> {
  return client.call(
    'vpc_view',
    (api, params) =>
      api.methods.vpcView({ path: { vpc: name }, query: { project: client.project } }, params),
    signal,
  );
}

/**
 * Every VPC of the project (one page in practice: a project holds few VPCs).
 * `boundedCollection`: a short page ends the scan (see OxideClient.listAll).
 */
export function listVpcs(
  client: OxideClient,
  options: { boundedCollection?: boolean } = {},
  signal?: AbortSignal,
): Promise<Vpc[]> {
  return client.listAll<Vpc>(
    'vpc_list',
    (api, pageToken, limit, params) =>
      api.methods.vpcList({ query: { project: client.project, limit, pageToken } }, params),
    signal,
    options,
  );
}
