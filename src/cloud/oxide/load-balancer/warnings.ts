// What the load balancer tells a Service's author without failing it (Warning events, recorded
// by the service controller once per Service until they go away): annotations under
// `oxide.computer/` that nothing reads (a typo leaves the Service without what it asked for), and
// floating IPs with the Service's owner record under another name (a copied description), left
// where they are because they are attached outside the cluster (ownership.ts).
import type { FloatingIp } from '@oxide/api';
import { quote } from '../../../util/quote.ts';
import type { LoadBalancerWarning } from '../../provider.ts';
import { ALL_ANNOTATIONS } from './annotations.ts';

export const UNKNOWN_ANNOTATION = 'UnknownAnnotation';
export const FLOATING_IP_OUTSIDE_CLUSTER = 'FloatingIPOutsideCluster';

/** Keys named in one warning; the rest are counted (a Service may carry thousands). */
const MAX_KEYS = 5;

export function unknownAnnotationWarning(keys: readonly string[]): LoadBalancerWarning[] {
  if (keys.length === 0) return [];
  const named = keys.slice(0, MAX_KEYS).map((k) => quote(k));
  const more = keys.length > MAX_KEYS ? ` and ${keys.length - MAX_KEYS} more` : '';
  const known = ALL_ANNOTATIONS.map((d) => d.name).join(', ');
  return [
    {
      reason: UNKNOWN_ANNOTATION,
      message:
        `annotation${keys.length > 1 ? 's' : ''} ${named.join(', ')}${more} ` +
        `ignored: the Oxide load balancer reads only ${known}`,
    },
  ];
}

/** One warning per floating IP of the Service left attached outside the cluster. */
export function outsideClusterWarnings(held: readonly FloatingIp[]): LoadBalancerWarning[] {
  return held.map((f) => ({
    reason: FLOATING_IP_OUTSIDE_CLUSTER,
    message:
      `floating IP ${f.name} (${f.ip}) carries this Service's owner record under another name ` +
      `and is attached to instance ${f.instanceId ?? ''}, which is not a Node of this cluster: ` +
      'left attached and not deleted (a copied description is never acted on; fix the ' +
      'description in Oxide to end this warning)',
  }));
}
