// Switching a cluster from the Go CCM v0.7.1 to ours, both ways an operator would, against a real
// apiserver: `kubectl apply` of our manifest over the Go manifest's objects, and `helm upgrade` of
// a Go chart release to our chart (with and without --reuse-values); then back (rollback).
// The Go side is a chart written here from the facts of the Go CCM's chart and manifest, not
// copied from its repository:
//   names     the release name if it contains oxide-cloud-controller-manager, else
//             <release>-oxide-cloud-controller-manager (Deployment, ServiceAccount, Secret
//             reference); ClusterRole and ClusterRoleBinding system:<that name>;
//   labels    helm.sh/chart, app.kubernetes.io/{name,instance,version,managed-by};
//   selector  app.kubernetes.io/name + app.kubernetes.io/instance;
//   pod       container oxide-cloud-controller-manager, command
//             ["/usr/bin/oxide-cloud-controller-manager", "--cloud-provider=oxide"], env
//             OXIDE_HOST/TOKEN/PROJECT from the Secret keys oxide-host/-token/-project;
//   values    deployment.replicas, deployment.image.name, deployment.image.tag,
//             deployment.imagePullPolicy.
// The manifest is that chart rendered as release oxide-cloud-controller-manager in kube-system.
// No kubelet runs here: "the pod runs" is out of reach; the objects the kubelet would run are
// checked instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Service } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { startSimulator } from '../sim/server.ts';
import { runApp } from '../src/app.ts';
import { readCommandLine } from '../src/config/command-line.ts';
import { createLogger } from '../src/log.ts';
import { waitFor } from './harness/context.ts';
import { testKube } from './harness/kube.ts';
import { createKubeletNode, getNode } from './harness/nodes.ts';
import { freePort } from './harness/ports.ts';
import {
  CHART_DIR,
  MANIFEST_PATH,
  NAME,
  helm,
  kubectl,
  makefileVersion,
  parseManifest,
} from './harness/delivery.ts';

const GO_COMMAND = ['/usr/bin/oxide-cloud-controller-manager', '--cloud-provider=oxide'];

function writeGoChart(dir: string): void {
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(
    join(dir, 'Chart.yaml'),
    `apiVersion: v2\nname: ${NAME}\nversion: 0.7.1\nappVersion: "0.7.1"\n`,
  );
  writeFileSync(
    join(dir, 'values.yaml'),
    [
      'deployment:',
      '  replicas: 1',
      '  image:',
      '    name: ghcr.io/oxidecomputer/oxide-cloud-controller-manager',
      '    tag: ""',
      '  imagePullPolicy: IfNotPresent',
      '',
    ].join('\n'),
  );
  const full = `{{ if contains .Chart.Name .Release.Name }}{{ .Release.Name }}{{ else }}{{ .Release.Name }}-{{ .Chart.Name }}{{ end }}`;
  const labels = [
    '    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}',
    '    app.kubernetes.io/name: {{ .Chart.Name }}',
    '    app.kubernetes.io/instance: {{ .Release.Name }}',
    '    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}',
    '    app.kubernetes.io/managed-by: {{ .Release.Service }}',
  ].join('\n');
  const secretEnv = (env: string, key: string) =>
    `        - name: ${env}\n          valueFrom:\n            secretKeyRef:\n              name: ${full}\n              key: ${key}`;
  writeFileSync(
    join(dir, 'templates', 'go-ccm.yaml'),
    `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${full}
  namespace: {{ .Release.Namespace }}
  labels:
${labels}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:${full}
  labels:
${labels}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, watch, list, create, update, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch, update]
- apiGroups: [""]
  resources: [nodes]
  verbs: ["*"]
- apiGroups: [""]
  resources: [nodes/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [services, services/status]
  verbs: [list, patch, update, watch]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [create]
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, update, watch]
- apiGroups: [""]
  resources: [endpoints]
  verbs: [create, get, list, watch, update]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:${full}
  labels:
${labels}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:${full}
subjects:
- kind: ServiceAccount
  name: ${full}
  namespace: {{ .Release.Namespace }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${full}
  namespace: {{ .Release.Namespace }}
  labels:
${labels}
spec:
  replicas: {{ .Values.deployment.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      hostNetwork: true
      dnsPolicy: Default
      serviceAccountName: ${full}
      priorityClassName: system-cluster-critical
      tolerations:
      - key: node.cloudprovider.kubernetes.io/uninitialized
        value: "true"
        effect: NoSchedule
      containers:
      - name: {{ .Chart.Name }}
        image: "{{ .Values.deployment.image.name }}:{{ .Values.deployment.image.tag | default .Chart.AppVersion }}"
        imagePullPolicy: {{ .Values.deployment.imagePullPolicy }}
        command: ${JSON.stringify(GO_COMMAND)}
        env:
${secretEnv('OXIDE_HOST', 'oxide-host')}
${secretEnv('OXIDE_TOKEN', 'oxide-token')}
${secretEnv('OXIDE_PROJECT', 'oxide-project')}
`,
  );
}

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> };
    template?: {
      spec: {
        containers: {
          name: string;
          image: string;
          command?: string[];
          args?: string[];
          env: { valueFrom?: { secretKeyRef?: { name: string } } }[];
        }[];
      };
    };
  };
  rules?: unknown[];
}

let kubeconfig: string;
let dir: string;
let goChart: string;

before(async () => {
  ({ kubeconfig } = await testKube({ dedicated: true }));
  dir = mkdtempSync(join(tmpdir(), 'occm-migrate-'));
  goChart = join(dir, 'go-chart');
  writeGoChart(goChart);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const k = (...args: string[]) => kubectl(kubeconfig, args);
const h = (...args: string[]) => helm('--kubeconfig', kubeconfig, ...args);

/** Every object of the kinds either CCM ships that carries app.kubernetes.io/name. */
async function shipped(selector: string): Promise<Obj[]> {
  const list = (kinds: string, ns: string[]) =>
    k('get', kinds, ...ns, '-l', selector, '-o', 'json').then(
      (out) => (JSON.parse(out) as { items: Obj[] }).items,
    );
  return [
    ...(await list('serviceaccounts,deployments,poddisruptionbudgets,roles,rolebindings', ['-A'])),
    ...(await list('clusterroles,clusterrolebindings', [])),
  ];
}

const ids = (objects: { kind: string; metadata: { name: string; namespace?: string } }[]) =>
  objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();

function deploymentOf(objects: Obj[]): Obj {
  const d = objects.find((o) => o.kind === 'Deployment');
  assert.ok(d, 'a Deployment');
  return d;
}

test('manifest path: kubectl apply of ours over the Go manifest, no orphans; and back', async () => {
  const goManifest = await helm('template', NAME, goChart, '--namespace', 'kube-system');
  await k(
    '-n',
    'kube-system',
    'create',
    'secret',
    'generic',
    NAME,
    '--from-literal=oxide-host=https://rack.example',
    '--from-literal=oxide-token=t',
    '--from-literal=oxide-project=k8s',
  );
  await kubectl(kubeconfig, ['apply', '-f', '-'], goManifest);
  const selector = `app.kubernetes.io/name=${NAME}`;
  const goObjects = await shipped(selector);
  assert.deepEqual(ids(goObjects), [
    `ClusterRole//system:${NAME}`,
    `ClusterRoleBinding//system:${NAME}`,
    `Deployment/kube-system/${NAME}`,
    `ServiceAccount/kube-system/${NAME}`,
  ]);
  const goDeployment = deploymentOf(goObjects);

  const out = await k('apply', '-f', MANIFEST_PATH);
  // As shown in docs/migrating-from-go-ccm.md: the Go objects configured, only ours created.
  assert.deepEqual(out.trim().split('\n'), [
    `poddisruptionbudget.policy/${NAME} created`,
    `serviceaccount/${NAME} configured`,
    `clusterrole.rbac.authorization.k8s.io/system:${NAME} configured`,
    `clusterrolebinding.rbac.authorization.k8s.io/${NAME}:system:auth-delegator created`,
    `clusterrolebinding.rbac.authorization.k8s.io/system:${NAME} configured`,
    `role.rbac.authorization.k8s.io/${NAME}:leader-election created`,
    `role.rbac.authorization.k8s.io/${NAME}:node-leases created`,
    `rolebinding.rbac.authorization.k8s.io/${NAME}:extension-apiserver-authentication-reader created`,
    `rolebinding.rbac.authorization.k8s.io/${NAME}:leader-election created`,
    `rolebinding.rbac.authorization.k8s.io/${NAME}:node-leases created`,
    `deployment.apps/${NAME} configured`,
  ]);

  const ours = parseManifest(readFileSync(MANIFEST_PATH, 'utf8')) as unknown as Obj[];
  const now = await shipped(selector);
  // Every object in the cluster is one of ours: the Go ones were updated in place, none orphaned.
  assert.deepEqual(ids(now), ids(ours));
  for (const o of now) assert.equal(o.metadata.labels?.['helm.sh/chart'], undefined, o.kind);
  const d = deploymentOf(now);
  assert.deepEqual(d.spec?.selector, goDeployment.spec?.selector);
  const c = d.spec?.template?.spec.containers[0];
  const want = deploymentOf(ours).spec?.template?.spec.containers[0];
  assert.equal(c?.name, NAME);
  assert.equal(c?.image, `ghcr.io/oxidecomputer/${NAME}:${makefileVersion()}`);
  assert.deepEqual(c?.command, ['/usr/bin/oxide-cloud-controller-manager']);
  assert.deepEqual(c?.args, want?.args);
  assert.deepEqual(
    c?.env.map((e) => e.valueFrom?.secretKeyRef?.name),
    [NAME, NAME, NAME],
    'the Go manifest Secret',
  );
  const role = now.find((o) => o.kind === 'ClusterRole');
  assert.deepEqual(role?.rules, ours.find((o) => o.kind === 'ClusterRole')?.rules);

  // Rollback: the Go manifest applies over ours; what only ours has is what the guide deletes.
  await kubectl(kubeconfig, ['apply', '-f', '-'], goManifest);
  const back = await shipped(selector);
  assert.deepEqual(deploymentOf(back).spec?.template?.spec.containers[0]?.command, GO_COMMAND);
  assert.equal(deploymentOf(back).spec?.template?.spec.containers[0]?.args, undefined);
  const extra = ids(back).filter((id) => !ids(goObjects).includes(id));
  assert.deepEqual(extra, [
    `ClusterRoleBinding//${NAME}:system:auth-delegator`,
    `PodDisruptionBudget/kube-system/${NAME}`,
    `Role/kube-node-lease/${NAME}:node-leases`,
    `Role/kube-system/${NAME}:leader-election`,
    `RoleBinding/kube-node-lease/${NAME}:node-leases`,
    `RoleBinding/kube-system/${NAME}:extension-apiserver-authentication-reader`,
    `RoleBinding/kube-system/${NAME}:leader-election`,
  ]);
});

for (const reuse of [true, false]) {
  test(`Helm path: helm upgrade of a Go chart release ${reuse ? 'with' : 'without'} --reuse-values; and helm rollback`, async () => {
    const release = reuse ? 'occm' : 'plain';
    const ns = `migrate-${release}`;
    const full = `${release}-${NAME}`;
    // The operator's own setting in the Go release: two replicas, via the Go chart's key.
    await h(
      'install',
      release,
      goChart,
      '-n',
      ns,
      '--create-namespace',
      '--set',
      'deployment.replicas=2',
    );
    const selector = `app.kubernetes.io/instance=${release}`;
    const goObjects = await shipped(selector);
    assert.deepEqual(ids(goObjects), [
      `ClusterRole//system:${full}`,
      `ClusterRoleBinding//system:${full}`,
      `Deployment/${ns}/${full}`,
      `ServiceAccount/${ns}/${full}`,
    ]);

    await h('upgrade', release, CHART_DIR, '-n', ns, ...(reuse ? ['--reuse-values'] : []));
    const manifest = parseManifest(await h('get', 'manifest', release, '-n', ns));
    const now = await shipped(selector);
    assert.deepEqual(ids(now), ids(manifest as unknown as Obj[]), 'no orphans, nothing missing');
    for (const id of ids(goObjects)) assert.ok(ids(now).includes(id), `${id} updated in place`);
    const d = deploymentOf(now);
    assert.deepEqual(d.spec?.selector, deploymentOf(goObjects).spec?.selector);
    // The operator's Go key is honoured either way: --reuse-values keeps the Go release's values
    // (and drops our chart's defaults: the templates supply them); without it, Helm carries the
    // values the operator supplied to the Go release over to our chart's defaults.
    assert.equal(d.spec?.replicas, 2);
    const c = d.spec?.template?.spec.containers[0];
    assert.equal(c?.image, `ghcr.io/oxidecomputer/${NAME}:${makefileVersion()}`);
    assert.deepEqual(c?.command, ['/usr/bin/oxide-cloud-controller-manager']);
    assert.ok(c?.args?.includes('--leader-elect=true'));
    assert.deepEqual(
      c?.env.map((e) => e.valueFrom?.secretKeyRef?.name),
      [full, full, full],
    );

    // Rollback with Helm removes what only ours had: back to exactly the Go objects.
    await h('rollback', release, '1', '-n', ns);
    const back = await shipped(selector);
    assert.deepEqual(ids(back), ids(goObjects));
    assert.deepEqual(deploymentOf(back).spec?.template?.spec.containers[0]?.command, GO_COMMAND);
  });
}

test('image swap only: ours with the Go Deployment command, service account and ClusterRole works', async () => {
  const release = 'swap';
  const ns = `migrate-${release}`;
  const full = `${release}-${NAME}`;
  await h('install', release, goChart, '-n', ns, '--create-namespace');
  const { client: admin } = await testKube({ dedicated: true });
  const { status } = await admin.post<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${full}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    },
  );
  const server = (
    JSON.parse(await k('config', 'view', '--raw', '-o', 'json')) as {
      clusters: { cluster: { server: string } }[];
    }
  ).clusters[0]?.cluster.server;
  const asGoServiceAccount = join(dir, 'go-sa.kubeconfig');
  writeFileSync(
    asGoServiceAccount,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: status.token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const sim = await startSimulator({
    seed: { project: 'k8s', instances: [{ name: 'swap-node' }] },
  });
  const port = await freePort();
  // The Go Deployment's arguments, plus where to serve and the kubeconfig (in a Pod: in-cluster).
  const cmd = readCommandLine([
    ...GO_COMMAND.slice(1),
    `--kubeconfig=${asGoServiceAccount}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--metrics-plain-http',
  ]);
  assert.deepEqual(cmd.errors, []);
  const logs = new PassThrough();
  let logText = '';
  logs.on('data', (d: Buffer) => (logText += d.toString()));
  const stop = new AbortController();
  const exited = runApp(
    {
      options: cmd.options,
      controllers: cmd.controllers,
      oxide: { host: sim.url, token: sim.token, project: sim.project, region: '', zone: '' },
    },
    createLogger({ verbosity: 2, errorStream: logs }),
    stop.signal,
  );
  try {
    await createKubeletNode(admin, 'swap-node');
    await waitFor(
      'the Node initialized',
      async () => (await getNode(admin, 'swap-node')).spec?.providerID?.startsWith('oxide://'),
      60_000,
    );
    await admin.post('/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'swap-lb' },
      spec: {
        type: 'LoadBalancer',
        selector: { app: 'x' },
        ports: [{ port: 80, protocol: 'TCP' }],
      },
    });
    await waitFor(
      'the LoadBalancer IP',
      async () =>
        (await admin.get<V1Service>('/api/v1/namespaces/default/services/swap-lb')).status
          ?.loadBalancer?.ingress?.[0]?.ip,
      60_000,
    );
    await waitFor(
      'ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
    );
  } finally {
    stop.abort();
    await exited;
    await sim.stop();
  }
});
