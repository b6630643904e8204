// Creates Nodes the way kubelet does with --cloud-provider=external: the uninitialized taint,
// only a Hostname address, optionally the provided-node-ip annotation (kubelet --node-ip), and a
// Ready condition in status.
import type { V1Node, V1NodeCondition } from '@kubernetes/client-node';
import type { KubeClient } from '../../src/kube/client.ts';
import { ANNOTATION_PROVIDED_NODE_IP, TAINT_UNINITIALIZED } from '../../src/kube/well-known.ts';

export interface KubeletNodeOptions {
  /** Defaults to the node name, as kubelet does. */
  hostname?: string;
  providedNodeIP?: string;
  ready?: boolean;
  /** Register without the uninitialized taint (an already-initialized Node). */
  initialized?: boolean;
  providerID?: string;
  labels?: Record<string, string>;
}

export async function createKubeletNode(
  kube: KubeClient,
  name: string,
  opts: KubeletNodeOptions = {},
): Promise<V1Node> {
  const hostname = opts.hostname ?? name;
  const node: V1Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': hostname,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        ...opts.labels,
      },
      annotations: opts.providedNodeIP
        ? { [ANNOTATION_PROVIDED_NODE_IP]: opts.providedNodeIP }
        : {},
    },
    spec: {
      ...(opts.providerID ? { providerID: opts.providerID } : {}),
      taints: opts.initialized
        ? []
        : [{ key: TAINT_UNINITIALIZED, value: 'true', effect: 'NoSchedule' }],
    },
  };
  // Like kubelet, register with status in the create: one object, no window in which a
  // controller sees the Node without conditions.
  node.status = {
    addresses: [{ type: 'Hostname', address: hostname }],
    conditions: [readyCondition(opts.ready ?? true)],
  };
  return kube.post<V1Node>('/api/v1/nodes', node);
}

function readyCondition(ready: boolean): V1NodeCondition {
  const now = new Date();
  return {
    type: 'Ready',
    status: ready ? 'True' : 'False',
    reason: ready ? 'KubeletReady' : 'KubeletNotReady',
    message: ready ? 'kubelet is posting ready status' : 'kubelet stopped posting status',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  };
}

export function setNodeReady(
  kube: KubeClient,
  name: string,
  ready: boolean,
  addresses?: { type: string; address: string }[],
): Promise<V1Node> {
  return kube.patch<V1Node>(`/api/v1/nodes/${name}/status`, 'strategic', {
    status: {
      ...(addresses ? { addresses } : {}),
      conditions: [readyCondition(ready)],
    },
  });
}

export function getNode(kube: KubeClient, name: string): Promise<V1Node> {
  return kube.get<V1Node>(`/api/v1/nodes/${name}`);
}

export async function deleteNode(kube: KubeClient, name: string): Promise<void> {
  await kube.delete(`/api/v1/nodes/${name}`).catch(() => undefined);
}
