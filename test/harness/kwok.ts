// kwok (sigs.k8s.io/kwok) as the kubelet of every test Node: Nodes are registered here the way
// kubelet --cloud-provider=external registers them, and the kwok controller then does what the
// kubelet does afterwards: posts the Ready condition, renews the Node's Lease in
// kube-node-lease (the heartbeat kube-controller-manager's node lifecycle controller watches),
// runs the Pods scheduled to the Node (Running + Ready, pod IPs from the Node's pod CIDR) and
// removes them when they are deleted.
//
// kwok manages only Nodes labelled `kwok.x-k8s.io/node=fake`. Removing the label is how a test
// makes a kubelet die: kwok's label-selected watch sees the Node leave, so kwok stops renewing the
// Lease and stops posting status, and everything after that (NotReady, unreachable taints,
// failover) is done by the real controllers. Putting it back is the kubelet coming back. (An
// annotation selector would not do: kwok filters annotations client-side and keeps renewing the
// Lease of a Node whose annotation was removed.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Lease, V1Node, V1Service } from '@kubernetes/client-node';
import type { KubeClient } from '../../src/kube/client.ts';
import { ANNOTATION_PROVIDED_NODE_IP, TAINT_UNINITIALIZED } from '../../src/kube/well-known.ts';
import { Component } from './component.ts';
import { testbin } from './testbin.ts';

export const KWOK_LABEL = 'kwok.x-k8s.io/node';
const KWOK_MANAGED = 'fake';

export interface KwokOptions {
  kubeconfig: string;
  dir: string;
  /** Node Lease duration; kwok renews every quarter of it, as kubelet does. Default 40 s (kubelet's). */
  leaseDurationSeconds?: number;
  /** How often a Ready Node's status is re-posted (kubelet: --node-status-report-frequency, 5 m). */
  statusReportMs?: number;
  /** Entries in each Node's status.images (kubelet reports up to 50); default none. */
  imagesPerNode?: number;
  detachFromProcess?: boolean;
}

/**
 * Node and Pod stages. Unlike kwok's stock `node-fast` stages these never write
 * `status.addresses`: with --cloud-provider=external the addresses after registration are the
 * CCM's, and a kubelet stand-in re-posting a cached copy would race with the node controller.
 */
export function kwokStages(statusReportMs: number, imagesPerNode = 0): string {
  // A kubelet lists the images on its Node with digests and sizes: most of a real Node's bytes.
  const images = Array.from(
    { length: imagesPerNode },
    (_, i) =>
      `      - names:\n` +
      `        - registry.example.com/team-${i % 7}/app-${i}@sha256:${i.toString(16).padStart(64, 'a')}\n` +
      `        - registry.example.com/team-${i % 7}/app-${i}:v1.${i}.0\n` +
      `        sizeBytes: ${50_000_000 + i * 1_000_003}`,
  ).join('\n');
  const conditions = `
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}`;
  // What the Node was registered with, or a 4-CPU 16 GiB machine.
  const resources = (field: 'allocatable' | 'capacity'): string => `
      ${field}:
      {{ with .status.${field} }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: "4"
        memory: 16Gi
        pods: "110"
      {{ end }}`;
  // A selector expression: the object's Ready condition is (In) or is not (NotIn) True.
  const readyTrue = (operator: 'In' | 'NotIn'): string =>
    `    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: '${operator}'
      values: ['True']`;
  return [
    stage(
      'node-initialize',
      'Node',
      `  selector:
    matchExpressions:
${readyTrue('NotIn')}
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := $now }}${conditions}${resources('allocatable')}${resources('capacity')}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
        kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
        containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
        kernelVersion: {{ printf "kwok-%s" Version | Quote }}
        bootID: ""
        machineID: ""
        osImage: ""
        systemUUID: ""${imagesPerNode > 0 ? `\n      images:\n${images}` : ''}
      phase: Running
`,
    ),
    stage(
      'node-heartbeat-with-lease',
      'Node',
      `  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
${readyTrue('In')}
  delay:
    durationMilliseconds: ${statusReportMs}
    jitterDurationMilliseconds: ${Math.round(statusReportMs * 1.1)}
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}${conditions}
`,
    ),
    stage(
      'pod-ready',
      'Pod',
      `  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
${readyTrue('NotIn')}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:${['Initialized', 'Ready', 'ContainersReady'].map(podCondition).join('')}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`,
    ),
    stage(
      'pod-delete',
      'Pod',
      `  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  next:
    delete: true
`,
    ),
  ].join('---\n');
}

/** One kwok Stage: its name, the kind it acts on, and the rest of its spec. */
function stage(name: string, kind: 'Node' | 'Pod', spec: string): string {
  return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: ${kind}
${spec}`;
}

function podCondition(type: string): string {
  return `
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ${type}`;
}

/** Starts the kwok controller; it acts on Nodes registered by registerKwokNode. */
export function startKwok(options: KwokOptions): Component {
  const config = join(options.dir, 'kwok-stages.yaml');
  writeFileSync(config, kwokStages(options.statusReportMs ?? 300_000, options.imagesPerNode));
  return new Component({
    name: 'kwok',
    binary: testbin('kwok'),
    args: [
      `--config=${config}`,
      `--kubeconfig=${options.kubeconfig}`,
      `--manage-nodes-with-label-selector=${KWOK_LABEL}=${KWOK_MANAGED}`,
      `--node-lease-duration-seconds=${options.leaseDurationSeconds ?? 40}`,
      // Pod IPs for Nodes without a pod CIDR (no node IPAM in this bed).
      '--cidr=10.250.0.0/16',
    ],
    logFile: join(options.dir, 'kwok.log'),
    ...(options.detachFromProcess ? { detachFromProcess: true } : {}),
  });
}

export interface KwokNodeOptions {
  /** kubelet --node-ip: the provided-node-ip annotation the node controller must honour. */
  providedNodeIP?: string;
  labels?: Record<string, string>;
}

/**
 * Registers a Node as kubelet --cloud-provider=external does: the uninitialized taint, only a
 * Hostname address, no conditions yet (kwok posts Ready next, as kubelet's first status update
 * does); the apiserver's TaintNodesByCondition admission adds node.kubernetes.io/not-ready.
 */
export function registerKwokNode(
  kube: KubeClient,
  name: string,
  opts: KwokNodeOptions = {},
): Promise<V1Node> {
  return kube.post<V1Node>('/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        ...opts.labels,
        [KWOK_LABEL]: KWOK_MANAGED,
      },
      annotations: opts.providedNodeIP
        ? { [ANNOTATION_PROVIDED_NODE_IP]: opts.providedNodeIP }
        : {},
    },
    spec: { taints: [{ key: TAINT_UNINITIALIZED, value: 'true', effect: 'NoSchedule' }] },
    status: { addresses: [{ type: 'Hostname', address: name }] },
  });
}

/** The kubelet of this Node dies: no more Lease renewals or status posts. */
export async function stopHeartbeats(kube: KubeClient, name: string): Promise<void> {
  await kube.patch(`/api/v1/nodes/${encodeURIComponent(name)}`, 'merge', {
    metadata: { labels: { [KWOK_LABEL]: null } },
  });
}

/** The kubelet comes back: kwok takes the Node again, renews its Lease and reposts Ready. */
export async function startHeartbeats(kube: KubeClient, name: string): Promise<void> {
  await kube.patch(`/api/v1/nodes/${encodeURIComponent(name)}`, 'merge', {
    metadata: { labels: { [KWOK_LABEL]: KWOK_MANAGED } },
  });
}

/** The Node's Lease (kube-node-lease/<name>), or undefined before the first renewal. */
export function nodeLease(kube: KubeClient, name: string): Promise<V1Lease | undefined> {
  return kube
    .get<V1Lease>(
      `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${encodeURIComponent(name)}`,
    )
    .catch(() => undefined);
}

/** A LoadBalancer Service selecting `app: <name>`, port 80 → 8080, with `spec` on top. */
export function createLoadBalancer(
  kube: KubeClient,
  ns: string,
  name: string,
  spec: Partial<V1Service['spec']> = {},
): Promise<V1Service> {
  return kube.post<V1Service>(`/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: {
      type: 'LoadBalancer',
      selector: { app: name },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
      ...spec,
    },
  });
}
