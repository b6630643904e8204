// Which labels the node controller writes, from instance metadata (upstream's rules: GA and
// beta pairs only when non-empty; provider labels never in the kubernetes.io / k8s.io domains and
// never overwriting a different existing value).
import type { InstanceMetadata } from '../../cloud/provider.ts';
import {
  LABEL_INSTANCE_TYPE,
  LABEL_INSTANCE_TYPE_BETA,
  LABEL_REGION,
  LABEL_REGION_BETA,
  LABEL_ZONE,
  LABEL_ZONE_BETA,
} from '../../kube/well-known.ts';

const reservedDomain = /(^|\.)(kubernetes\.io|k8s\.io)\//;

export function desiredLabels(
  meta: InstanceMetadata,
  existing: Record<string, string> = {},
): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = (ga: string, beta: string, value: string): void => {
    if (!value) return;
    labels[ga] = value;
    labels[beta] = value;
  };
  pair(LABEL_INSTANCE_TYPE, LABEL_INSTANCE_TYPE_BETA, meta.instanceType);
  pair(LABEL_ZONE, LABEL_ZONE_BETA, meta.zone);
  pair(LABEL_REGION, LABEL_REGION_BETA, meta.region);
  for (const [k, v] of Object.entries(meta.additionalLabels)) {
    if (reservedDomain.test(k)) continue;
    if (existing[k] !== undefined && existing[k] !== v) continue;
    labels[k] = v;
  }
  return labels;
}
