// Label, taint and annotation keys that Kubernetes components agree on (k8s.io/api well_known_*
// and k8s.io/cloud-provider/api), in one place.
import type { V1Node, V1Taint } from '@kubernetes/client-node';

export const TAINT_UNINITIALIZED = 'node.cloudprovider.kubernetes.io/uninitialized';
export const TAINT_SHUTDOWN = 'node.cloudprovider.kubernetes.io/shutdown';
export const TAINT_TO_BE_DELETED = 'ToBeDeletedByClusterAutoscaler';

export const LABEL_INSTANCE_TYPE = 'node.kubernetes.io/instance-type';
export const LABEL_INSTANCE_TYPE_BETA = 'beta.kubernetes.io/instance-type';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_ZONE_BETA = 'failure-domain.beta.kubernetes.io/zone';
export const LABEL_REGION = 'topology.kubernetes.io/region';
export const LABEL_REGION_BETA = 'failure-domain.beta.kubernetes.io/region';
export const LABEL_EXCLUDE_FROM_LB = 'node.kubernetes.io/exclude-from-external-load-balancers';

export const ANNOTATION_PROVIDED_NODE_IP = 'alpha.kubernetes.io/provided-node-ip';

export const hasTaint = (node: V1Node, key: string): boolean =>
  (node.spec?.taints ?? []).some((t) => t.key === key);

export const shutdownTaint: V1Taint = { key: TAINT_SHUTDOWN, effect: 'NoSchedule' };

/** The Node's Ready condition status: 'True', 'False', 'Unknown', or undefined when absent. */
export const readyStatus = (node: V1Node): string | undefined =>
  node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
