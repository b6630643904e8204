// Nodes that host endpoints of a Service, for externalTrafficPolicy Local: kube-proxy on any
// other Node drops load-balancer traffic for the Service, so only these are useful targets.
import type { V1EndpointSlice } from '@kubernetes/client-node';

/** Label the EndpointSlice controller (and any other slice owner) sets to the Service name. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

/**
 * Names of the Nodes with at least one ready endpoint of the Service. `conditions.ready` unset
 * counts as ready, as the EndpointSlice API tells consumers to read an unknown state. When no
 * endpoint is ready, Nodes with serving-but-terminating endpoints are returned instead: that is
 * where kube-proxy itself sends traffic then (KEP-1669), so a rolling update that briefly has no
 * ready endpoint does not strand the address.
 */
export function endpointNodeNames(
  slices: readonly V1EndpointSlice[],
  namespace: string,
  serviceName: string,
): Set<string> {
  const ready = new Set<string>();
  const terminating = new Set<string>();
  for (const slice of slices) {
    if (slice.metadata?.namespace !== namespace) continue;
    if (slice.metadata.labels?.[LABEL_SERVICE_NAME] !== serviceName) continue;
    for (const ep of slice.endpoints ?? []) {
      if (!ep.nodeName) continue;
      const c = ep.conditions ?? {};
      if (c.ready !== false) ready.add(ep.nodeName);
      else if (c.serving === true && c.terminating === true) terminating.add(ep.nodeName);
    }
  }
  return ready.size > 0 ? ready : terminating;
}
