// The plain manifest operators apply: the real apiserver accepts every object, and the
// Deployment has the properties a CCM needs to start on a cluster whose Nodes are all still
// uninitialized (hostNetwork, tolerations, priority) and the hardening the issue asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { testKube } from './harness/kube.ts';
import {
  MANIFEST_PATH,
  NAME,
  applyManifest,
  find,
  kubectl,
  makefileVersion,
  parseManifest,
} from './harness/delivery.ts';

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

interface EnvVar {
  name: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface Probe {
  httpGet?: { path: string; port: number; scheme: string };
}

interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext: {
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    capabilities: { drop: string[] };
  };
  resources: { requests?: Record<string, string> };
}

interface PodSpec {
  serviceAccountName: string;
  hostNetwork: boolean;
  dnsPolicy: string;
  priorityClassName: string;
  securityContext: { runAsNonRoot: boolean; seccompProfile: { type: string } };
  containers: Container[];
  tolerations: Toleration[];
}

const objects = parseManifest(readFileSync(MANIFEST_PATH, 'utf8'));
const deployment = find(objects, 'Deployment', NAME) as unknown as {
  metadata: { namespace: string };
  spec: { template: { spec: PodSpec } };
};
const pod = deployment.spec.template.spec;
const container = pod.containers[0];

test('every object is accepted by the apiserver and exists afterwards', async () => {
  const { kubeconfig } = await testKube();
  const out = await applyManifest(kubeconfig);
  assert.equal(
    objects.length,
    11,
    'PDB, SA, ClusterRole, 2 ClusterRoleBindings, 2 Roles, 3 RoleBindings, Deployment',
  );
  for (const obj of objects) {
    const kind = obj.kind.toLowerCase();
    const line = `${kind}${obj.apiVersion.includes('/') ? `.${obj.apiVersion.split('/')[0]}` : ''}/${obj.metadata.name} serverside-applied`;
    assert.ok(out.split('\n').includes(line), `${line} in:\n${out}`);
    const ns = obj.metadata.namespace ? ['-n', obj.metadata.namespace] : [];
    const got = await kubectl(kubeconfig, ['get', kind, obj.metadata.name, ...ns, '-o', 'name']);
    assert.ok(got.trim().endsWith(`/${obj.metadata.name}`), `${obj.kind} ${obj.metadata.name}`);
  }
});

test('namespaced objects live in kube-system, the kubelet-heartbeat Role in kube-node-lease', () => {
  for (const obj of objects) {
    if (obj.kind.startsWith('Cluster')) assert.equal(obj.metadata.namespace, undefined);
    else if (obj.metadata.name.endsWith(':node-leases'))
      assert.equal(obj.metadata.namespace, 'kube-node-lease', `${obj.kind} ${obj.metadata.name}`);
    else assert.equal(obj.metadata.namespace, 'kube-system', `${obj.kind} ${obj.metadata.name}`);
  }
});

test('the Deployment runs the release image as the CCM service account', () => {
  assert.ok(container);
  assert.equal(container.image, `ghcr.io/oxidecomputer/${NAME}:${makefileVersion()}`);
  assert.equal(pod.serviceAccountName, NAME);
  // The Go CCM's command path and container name: swapping the image either way keeps working.
  assert.equal(container.name, NAME);
  assert.deepEqual(container.command, ['/usr/bin/oxide-cloud-controller-manager']);
  assert.ok(container.args.includes('--cloud-provider=oxide'));
  assert.ok(container.args.includes('--leader-elect=true'));
  assert.ok(container.args.includes('--secure-port=10258'));
});

test('it can start before any Node is initialized or ready', () => {
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'Default');
  assert.equal(pod.priorityClassName, 'system-cluster-critical');
  const tolerates = (key: string, effect?: string): boolean =>
    pod.tolerations.some((t) => t.key === key && (effect === undefined || t.effect === effect));
  assert.ok(
    pod.tolerations.some(
      (t) =>
        t.key === 'node.cloudprovider.kubernetes.io/uninitialized' &&
        t.value === 'true' &&
        t.effect === 'NoSchedule',
    ),
  );
  assert.ok(tolerates('node-role.kubernetes.io/control-plane', 'NoSchedule'));
  assert.ok(tolerates('node-role.kubernetes.io/etcd', 'NoExecute'));
  assert.ok(tolerates('node.kubernetes.io/not-ready', 'NoSchedule'));
  assert.ok(tolerates('node.kubernetes.io/not-ready', 'NoExecute'));
  assert.ok(pod.tolerations.some((t) => t.key === 'CriticalAddonsOnly' && t.operator === 'Exists'));
});

test('Oxide credentials come from the Secret, one key each', () => {
  const refs = Object.fromEntries(
    container?.env.map((e) => [e.name, e.valueFrom?.secretKeyRef]) ?? [],
  );
  assert.deepEqual(refs, {
    OXIDE_HOST: { name: NAME, key: 'oxide-host' },
    OXIDE_TOKEN: { name: NAME, key: 'oxide-token' },
    OXIDE_PROJECT: { name: NAME, key: 'oxide-project' },
  });
});

test('probes hit /healthz (liveness) and /readyz on the secure port over HTTPS', () => {
  const probe = { port: 10258, scheme: 'HTTPS' };
  assert.deepEqual(container?.livenessProbe?.httpGet, { path: '/healthz', ...probe });
  assert.deepEqual(container?.readinessProbe?.httpGet, { path: '/readyz', ...probe });
});

test('the secure port may delegate: auth-delegator cluster-wide, the authentication ConfigMap reader in kube-system', () => {
  interface Binding {
    kind: string;
    metadata: { name: string; namespace?: string };
    roleRef: { apiGroup: string; kind: string; name: string };
    subjects: { kind: string; name: string; namespace: string }[];
  }
  const bindings = objects as unknown as Binding[];
  // Found by what they grant, to whom: the names follow the chart's naming scheme.
  const sa = [
    {
      kind: 'ServiceAccount',
      name: pod.serviceAccountName,
      namespace: deployment.metadata.namespace,
    },
  ];
  const delegator = bindings.filter(
    (o) => o.kind === 'ClusterRoleBinding' && o.roleRef.name === 'system:auth-delegator',
  );
  assert.equal(delegator.length, 1);
  assert.equal(delegator[0]?.roleRef.kind, 'ClusterRole');
  assert.deepEqual(delegator[0]?.subjects, sa);
  const reader = bindings.filter(
    (o) =>
      o.kind === 'RoleBinding' && o.roleRef.name === 'extension-apiserver-authentication-reader',
  );
  assert.equal(reader.length, 1);
  assert.equal(reader[0]?.metadata.namespace, 'kube-system', 'where the apiserver publishes it');
  assert.equal(reader[0]?.roleRef.kind, 'Role');
  assert.deepEqual(reader[0]?.subjects, sa);
});

test('the container is locked down: non-root, read-only root, no privileges', () => {
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(container?.securityContext.allowPrivilegeEscalation, false);
  assert.equal(container?.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(container?.securityContext.capabilities.drop, ['ALL']);
  assert.ok(container?.resources.requests?.['cpu']);
  assert.ok(container?.resources.requests?.['memory']);
});
