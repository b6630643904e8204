// The Helm chart is the source of truth: the committed plain manifest must be its current render
// (run `make manifest` after changing the chart), values must reach the render, and every place
// that carries the release version must agree with the Makefile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { VERSION as SOURCE_VERSION } from '../src/version.ts';
import { testKube } from './harness/kube.ts';
import { repoRoot } from './harness/testbin.ts';
import {
  CHART_DIR,
  MANIFEST_PATH,
  NAME,
  find,
  helm,
  kubectl,
  makefileVersion,
  parseManifest,
  renderManifest,
} from './harness/delivery.ts';

interface RenderedDeployment {
  spec: {
    replicas: number;
    template: {
      spec: {
        nodeSelector?: Record<string, string>;
        volumes?: { name: string; configMap?: { name: string } }[];
        containers: {
          image: string;
          imagePullPolicy: string;
          command?: string[];
          args: string[];
          env: {
            name: string;
            value?: string;
            valueFrom?: { secretKeyRef?: { name: string } };
          }[];
          volumeMounts?: { name: string; mountPath: string }[];
        }[];
      };
    };
  };
}

test('manifests/ is the current render of the chart (run `make manifest`)', async () => {
  const fresh = await renderManifest();
  assert.equal(readFileSync(MANIFEST_PATH, 'utf8'), fresh);
});

test('values reach the render: image, replicas, extra args, secret, leader election', async () => {
  const text = await renderManifest(
    '--set',
    'image.repository=registry.example/occm,image.tag=9.9.9-rc.1,replicaCount=1',
    '--set',
    'secretName=rack-creds,clusterName=prod,leaderElection.enabled=false',
    '--set-json',
    'extraArgs=["--v=4","--controllers=*,-route"]',
    '--set-json',
    'nodeSelector={"node-role.kubernetes.io/control-plane":""}',
    '--set-json',
    'extraVolumes=[{"name":"ca","configMap":{"name":"rack-ca"}}]',
    '--set-json',
    'extraVolumeMounts=[{"name":"ca","mountPath":"/etc/oxide","readOnly":true}]',
    '--set-json',
    'extraEnv=[{"name":"OXIDE_CA_CERT_FILE","value":"/etc/oxide/ca.pem"}]',
  );
  const objects = parseManifest(text);
  const deployment = find(objects, 'Deployment', NAME) as unknown as RenderedDeployment;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  assert.equal(deployment.spec.replicas, 1);
  assert.equal(container?.image, 'registry.example/occm:9.9.9-rc.1');
  assert.deepEqual(container?.command, ['/usr/bin/oxide-cloud-controller-manager']);
  assert.deepEqual(container?.args, [
    '--cloud-provider=oxide',
    '--cluster-name=prod',
    '--leader-elect=false',
    '--secure-port=10258',
    '--v=4',
    '--controllers=*,-route',
  ]);
  const secretRefs = container?.env
    .filter((e) => e.valueFrom)
    .map((e) => e.valueFrom?.secretKeyRef?.name);
  assert.deepEqual(secretRefs, ['rack-creds', 'rack-creds', 'rack-creds']);
  assert.deepEqual(container?.env.at(-1), {
    name: 'OXIDE_CA_CERT_FILE',
    value: '/etc/oxide/ca.pem',
  });
  assert.equal(pod.volumes?.[0]?.configMap?.name, 'rack-ca');
  assert.equal(container?.volumeMounts?.[0]?.mountPath, '/etc/oxide');
  assert.deepEqual(pod.nodeSelector, { 'node-role.kubernetes.io/control-plane': '' });
  // Without leader election there is no Lease to grant access to; the only Role left is the
  // read-only one for kubelet heartbeats (load-balancer failover).
  assert.deepEqual(
    objects.filter((o) => o.kind === 'Role').map((o) => o.metadata.name),
    [`${NAME}:node-leases`],
  );
  assert.equal(
    objects.some((o) => o.metadata.name === `${NAME}:leader-election`),
    false,
  );
  // And the apiserver accepts the overridden render too.
  const { kubeconfig } = await testKube();
  await kubectl(kubeconfig, ['apply', '--dry-run=server', '-f', '-'], text);
});

test('helm lint --strict passes, with the defaults and with every optional object on', async () => {
  const out = await helm('lint', '--strict', CHART_DIR);
  assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const all = await helm(
    'lint',
    '--strict',
    CHART_DIR,
    '--set',
    'podMonitor.enabled=true,dashboard.enabled=true,prometheusRule.enabled=true,replicaCount=2',
  );
  assert.match(all, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('the release version agrees everywhere it is written', () => {
  const version = makefileVersion();
  const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as {
    version: string;
    appVersion: string;
  };
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  assert.deepEqual(
    {
      chart: chart.version,
      appVersion: chart.appVersion,
      source: SOURCE_VERSION,
      packageJson: pkg.version,
    },
    { chart: version, appVersion: version, source: version, packageJson: version },
    'run `make release-bump VERSION=x.y.z` rather than editing one of these by hand',
  );
  assert.match(
    readFileSync(MANIFEST_PATH, 'utf8'),
    new RegExp(`image: ghcr\\.io/oxidecomputer/${NAME}:${version.replace(/\./g, '\\.')}\\n`),
  );
});

interface PodMonitor {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    namespaceSelector: { matchNames: string[] };
    selector: { matchLabels: Record<string, string> };
    podMetricsEndpoints: {
      port: string;
      path: string;
      scheme: string;
      interval: string;
      tlsConfig?: unknown;
      authorization?: unknown;
    }[];
  };
}

test('the PodMonitor is off by default; on, it scrapes the Deployment pods metrics port', async () => {
  assert.equal(
    parseManifest(await renderManifest()).some((o) => o.kind === 'PodMonitor'),
    false,
  );
  // A release made before these values existed (helm upgrade --reuse-values) still renders.
  assert.equal(
    parseManifest(await renderManifest('--set', 'podMonitor=null')).some(
      (o) => o.kind === 'PodMonitor',
    ),
    false,
  );

  const authorization = { type: 'Bearer', credentials: { name: 'prom-occm', key: 'token' } };
  const objects = parseManifest(
    await renderManifest(
      '--set',
      'podMonitor.enabled=true,podMonitor.interval=15s,securePort=10300',
      '--set-json',
      'podMonitor.labels={"release":"kube-prometheus-stack"}',
      '--set-json',
      `podMonitor.authorization=${JSON.stringify(authorization)}`,
    ),
  );
  const monitor = find(objects, 'PodMonitor', NAME) as unknown as PodMonitor;
  const deployment = find(objects, 'Deployment', NAME) as unknown as {
    metadata: { namespace: string };
    spec: {
      selector: { matchLabels: Record<string, string> };
      template: {
        metadata: { labels: Record<string, string> };
        spec: { containers: { ports: { name: string; containerPort: number }[] }[] };
      };
    };
  };
  assert.equal(monitor.metadata.namespace, deployment.metadata.namespace);
  assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [deployment.metadata.namespace]);
  assert.deepEqual(monitor.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) {
    assert.equal(deployment.spec.template.metadata.labels[key], value, `pod label ${key}`);
  }
  assert.equal(monitor.metadata.labels['release'], 'kube-prometheus-stack');
  const [endpoint] = monitor.spec.podMetricsEndpoints;
  const port = deployment.spec.template.spec.containers[0]?.ports.find(
    (p) => p.name === endpoint?.port,
  );
  assert.equal(port?.containerPort, 10300, 'the endpoint names the secure port');
  assert.deepEqual(
    { path: endpoint?.path, scheme: endpoint?.scheme, interval: endpoint?.interval },
    { path: '/metrics', scheme: 'https', interval: '15s' },
  );
  assert.deepEqual(endpoint?.tlsConfig, { insecureSkipVerify: true });
  assert.deepEqual(endpoint?.authorization, authorization);

  const lint = await helm('lint', '--strict', CHART_DIR, '--set', 'podMonitor.enabled=true');
  assert.match(lint, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('install notes name the Secret, the Lease and how to check Nodes', async () => {
  const { kubeconfig } = await testKube();
  const out = await helm(
    'install',
    NAME,
    CHART_DIR,
    '--namespace',
    'kube-system',
    '--dry-run=client',
    '--kubeconfig',
    kubeconfig,
    '--set',
    'secretName=rack-creds',
  );
  const notes = out.slice(out.indexOf('NOTES:'));
  assert.match(notes, /Secret kube-system\/rack-creds \(keys oxide-host,/);
  assert.match(notes, /create secret generic rack-creds/);
  assert.match(notes, /get lease cloud-controller-manager/);
  assert.match(notes, /PROVIDER-ID:\.spec\.providerID/);
  assert.doesNotMatch(notes, /<no value>|%!/, 'every template value resolves');
});

/** A values file that removes every key of values.yaml, as --reuse-values of a Go release has. */
function withoutDefaults(dir: string): string {
  const keys = Object.keys(parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as object);
  const path = join(dir, 'no-defaults.yaml');
  writeFileSync(path, keys.map((k) => `${k}: null`).join('\n'));
  return path;
}

test('every key missing (--reuse-values of an older release): the same render as the defaults', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'occm-chart-'));
  try {
    const none = withoutDefaults(dir);
    assert.match(readFileSync(none, 'utf8'), /leaderElection: null/);
    assert.equal(await renderManifest('-f', none), await renderManifest());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Go chart keys are honoured as deprecated aliases; a new key set by the operator wins', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'occm-chart-'));
  try {
    const go = join(dir, 'go.yaml');
    writeFileSync(
      go,
      'deployment:\n  replicas: 3\n  image:\n    name: registry.example/ccm\n    tag: "9.1.2"\n  imagePullPolicy: Always\n',
    );
    const deploymentOf = async (...args: string[]) => {
      const objects = parseManifest(await renderManifest(...args));
      return find(objects, 'Deployment', NAME) as unknown as RenderedDeployment;
    };
    for (const args of [
      ['-f', go],
      ['-f', withoutDefaults(dir), '-f', go],
    ]) {
      const d = await deploymentOf(...args);
      const c = d.spec.template.spec.containers[0];
      assert.equal(d.spec.replicas, 3);
      assert.equal(c?.image, 'registry.example/ccm:9.1.2');
      assert.equal(c?.imagePullPolicy, 'Always');
    }
    const d = await deploymentOf('-f', go, '--set', 'replicaCount=2,image.tag=1.0.0');
    assert.equal(d.spec.replicas, 2);
    assert.equal(d.spec.template.spec.containers[0]?.image, 'registry.example/ccm:1.0.0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('values.schema.json rejects typos, wrong types and values', async () => {
  const schemaError = /don't meet the specifications of the schema/;
  for (const bad of [
    'replicaCount=-1',
    'image.pullPolicy=Sometimes',
    'securePort=70000',
    // Typos, at the top level and inside every object the chart reads.
    'replicaCont=2',
    'image.tga=1.0',
    'leaderElection.enable=true',
    'podMonitor.enable=true',
    'dashboard.enable=true',
    'prometheusRule.enable=true',
    'serviceAccount.nmae=x',
    'rbac.crate=false',
    'podDisruptionBudget.minAvailable=1',
    'securityContext.readOnlyRootFileSystem=false',
    'podSecurityContext.runAsUsr=1000',
    'resources.limit.memory=1Gi',
    'deployment.replica=2',
    // Wrong types and values.
    'podMonitor.interval=soon',
    'prometheusRule.servicePendingFor=15 minutes',
    'prometheusRule.oxideErrorRatio=2',
    'podDisruptionBudget.maxUnavailable=0',
  ]) {
    await assert.rejects(renderManifest('--set', bad), schemaError, bad);
  }
  for (const bad of [
    'leaderElection={"enabled":"yes"}',
    'rbac={"create":"no"}',
    'podLabels={"team":1}',
    'tolerations=[{"key":"a","operator":"Maybe"}]',
    'extraEnv=[{"name":"A","vaule":"b"}]',
    'podMonitor.authorization={"type":"Bearer","credentials":{"name":"s"}}',
  ]) {
    await assert.rejects(renderManifest('--set-json', bad), schemaError, bad);
  }
  await assert.rejects(
    renderManifest('--set-json', 'leaderElection={"enabled":"yes"}'),
    /leaderElection\/enabled/,
  );
});

test('more than one replica without leader election fails to render, saying why', async () => {
  await assert.rejects(
    renderManifest('--set', 'replicaCount=3,leaderElection.enabled=false'),
    /replicaCount is 3 but leaderElection.enabled is false: every replica would run the controllers at once/,
  );
  // Also through the Go chart's key.
  await assert.rejects(
    renderManifest('--set', 'deployment.replicas=2,leaderElection.enabled=false'),
    /replicaCount is 2 but leaderElection.enabled is false/,
  );
  const d = find(parseManifest(await renderManifest('--set', 'replicaCount=3')), 'Deployment');
  assert.equal((d as unknown as RenderedDeployment).spec.replicas, 3);
});

test('names follow the Go chart: <release>-oxide-cloud-controller-manager, system: RBAC, Secret', async () => {
  const text = await helm('template', 'edge', CHART_DIR, '--namespace', 'ccm');
  const objects = parseManifest(text);
  const full = `edge-${NAME}`;
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
    `ClusterRole/system:${full}`,
    `ClusterRoleBinding/${full}:system:auth-delegator`,
    `ClusterRoleBinding/system:${full}`,
    `Deployment/${full}`,
    `PodDisruptionBudget/${full}`,
    `Role/${full}:leader-election`,
    `Role/${full}:node-leases`,
    `RoleBinding/${full}:extension-apiserver-authentication-reader`,
    `RoleBinding/${full}:leader-election`,
    `RoleBinding/${full}:node-leases`,
    `ServiceAccount/${full}`,
  ]);
  const d = find(objects, 'Deployment') as unknown as RenderedDeployment & {
    spec: { selector: { matchLabels: Record<string, string> } };
  };
  assert.deepEqual(d.spec.selector.matchLabels, {
    'app.kubernetes.io/name': NAME,
    'app.kubernetes.io/instance': 'edge',
  });
  const refs = d.spec.template.spec.containers[0]?.env.map((e) => e.valueFrom?.secretKeyRef?.name);
  assert.deepEqual(refs, [full, full, full]);
  // A release named like the chart is not doubled, as in the Go chart.
  const same = parseManifest(await helm('template', `my-${NAME}`, CHART_DIR));
  assert.equal(find(same, 'Deployment').metadata.name, `my-${NAME}`);
});

/** Every value set away from its default; the test below checks each reaches the render. */
const EVERY_VALUE = {
  replicaCount: 2,
  image: { repository: 'registry.example/occm', tag: '1.2.3', pullPolicy: 'Always' },
  imagePullSecrets: [{ name: 'pull' }],
  secretName: 'rack',
  clusterName: 'prod',
  leaderElection: { enabled: true, resourceNamespace: 'ccm', resourceName: 'occm-lease' },
  securePort: 10300,
  extraArgs: ['--v=4'],
  extraEnv: [{ name: 'OXIDE_CA_CERT_FILE', value: '/etc/oxide/ca.pem' }],
  extraVolumes: [{ name: 'ca', configMap: { name: 'rack-ca' } }],
  extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/oxide' }],
  resources: { requests: { cpu: '100m', memory: '200Mi' }, limits: { memory: '500Mi' } },
  priorityClassName: 'occm-critical',
  nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
  // Helm merges maps with values.yaml's: null removes the default's preference.
  affinity: {
    nodeAffinity: null,
    podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [] },
  },
  tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
  podLabels: { team: 'platform' },
  podAnnotations: { 'example.com/scrape': 'no' },
  podSecurityContext: {
    runAsNonRoot: true,
    runAsUser: 1001,
    runAsGroup: 1001,
    seccompProfile: { type: 'RuntimeDefault' },
  },
  securityContext: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL', 'NET_RAW'] },
  },
  rbac: { create: false },
  serviceAccount: { create: true, name: 'occm-sa', annotations: { 'example.com/role': 'ccm' } },
  podDisruptionBudget: { enabled: true, maxUnavailable: '50%' },
  podMonitor: {
    enabled: true,
    namespace: 'monitoring',
    labels: { release: 'prom' },
    interval: '15s',
    scrapeTimeout: '10s',
    tlsConfig: { insecureSkipVerify: false, ca: { secret: { name: 'ca', key: 'ca.crt' } } },
    authorization: { type: 'Bearer', credentials: { name: 'prom-occm', key: 'token' } },
    relabelings: [{ action: 'replace', targetLabel: 'cluster', replacement: 'prod' }],
    metricRelabelings: [{ action: 'drop', sourceLabels: ['__name__'], regex: 'nodejs_.*' }],
  },
  dashboard: {
    enabled: true,
    namespace: 'monitoring',
    labels: { grafana_dashboard: '1', extra: 'x' },
    annotations: { grafana_folder: 'Kubernetes' },
  },
  prometheusRule: {
    enabled: true,
    namespace: 'monitoring',
    labels: { release: 'prom' },
    additionalLabels: { team: 'platform' },
    selector: 'namespace="kube-system"',
    nodeUninitializedFor: '20m',
    servicePendingFor: '25m',
    workqueueStuckFor: '30m',
    oxideErrorRatio: 0.2,
  },
  name: 'occm',
};

/** Leaf paths of a values tree (arrays and empty maps are leaves). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

test('a render with every value set: each one reaches its object', async () => {
  const defaults = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as object;
  // Every value of values.yaml is set here (the chart's own maps key by key, Kubernetes objects
  // such as affinity or resources whole), so a new value without a test fails this line.
  const own = new Set(['image', 'leaderElection', 'rbac', 'serviceAccount', 'podDisruptionBudget']);
  for (const k of ['podMonitor', 'dashboard', 'prometheusRule']) own.add(k);
  const key = (path: string): string => {
    const [first = '', second] = path.split('.');
    return own.has(first) && second ? `${first}.${second}` : first;
  };
  const covered = new Set(leafPaths(EVERY_VALUE).map(key));
  for (const path of leafPaths(defaults).map(key)) {
    assert.ok(covered.has(path), `${path} is set by EVERY_VALUE`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'occm-chart-'));
  try {
    const file = join(dir, 'every.yaml');
    writeFileSync(file, JSON.stringify(EVERY_VALUE));
    const text = await helm('template', 'edge', CHART_DIR, '--namespace', 'ccm', '-f', file);
    const objects = parseManifest(text);
    const full = 'edge-occm';
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(),
      [
        `ConfigMap/monitoring/${full}-dashboard`,
        `Deployment/ccm/${full}`,
        `PodDisruptionBudget/ccm/${full}`,
        `PodMonitor/monitoring/${full}`,
        `PrometheusRule/monitoring/${full}`,
        'ServiceAccount/ccm/occm-sa',
      ],
      'rbac.create=false: no ClusterRole, Role or binding',
    );
    const d = find(objects, 'Deployment') as unknown as {
      spec: {
        replicas: number;
        selector: { matchLabels: Record<string, string> };
        template: {
          metadata: { labels: Record<string, string>; annotations: Record<string, string> };
          spec: Record<string, unknown> & {
            containers: (Record<string, unknown> & { args: string[]; env: { name: string }[] })[];
          };
        };
      };
    };
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(d.spec.replicas, 2);
    assert.deepEqual(d.spec.selector.matchLabels, {
      'app.kubernetes.io/name': 'occm',
      'app.kubernetes.io/instance': 'edge',
    });
    assert.equal(d.spec.template.metadata.labels['team'], 'platform');
    assert.deepEqual(d.spec.template.metadata.annotations, { 'example.com/scrape': 'no' });
    assert.equal(c?.['image'], 'registry.example/occm:1.2.3');
    assert.equal(c?.['imagePullPolicy'], 'Always');
    assert.deepEqual(pod['imagePullSecrets'], [{ name: 'pull' }]);
    assert.deepEqual(c?.args, [
      '--cloud-provider=oxide',
      '--cluster-name=prod',
      '--leader-elect=true',
      '--leader-elect-resource-namespace=ccm',
      '--leader-elect-resource-name=occm-lease',
      '--secure-port=10300',
      '--v=4',
    ]);
    assert.deepEqual(c?.['resources'], EVERY_VALUE.resources);
    assert.deepEqual(c?.['securityContext'], EVERY_VALUE.securityContext);
    assert.deepEqual(c?.['volumeMounts'], EVERY_VALUE.extraVolumeMounts);
    assert.equal(c?.env.at(-1)?.name, 'OXIDE_CA_CERT_FILE');
    assert.deepEqual(pod['securityContext'], EVERY_VALUE.podSecurityContext);
    assert.equal(pod['serviceAccountName'], 'occm-sa');
    assert.equal(pod['priorityClassName'], 'occm-critical');
    assert.deepEqual(pod['nodeSelector'], EVERY_VALUE.nodeSelector);
    assert.deepEqual(pod['affinity'], {
      podAntiAffinity: EVERY_VALUE.affinity.podAntiAffinity,
    });
    assert.deepEqual(pod['tolerations'], EVERY_VALUE.tolerations);
    assert.deepEqual(pod['volumes'], EVERY_VALUE.extraVolumes);
    const env = c?.env as { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
    assert.equal(env[0]?.valueFrom?.secretKeyRef?.name, 'rack');
    const sa = find(objects, 'ServiceAccount') as unknown as {
      metadata: { annotations: Record<string, string> };
    };
    assert.deepEqual(sa.metadata.annotations, { 'example.com/role': 'ccm' });
    const pdb = find(objects, 'PodDisruptionBudget') as unknown as {
      spec: { maxUnavailable: string; selector: { matchLabels: Record<string, string> } };
    };
    assert.equal(pdb.spec.maxUnavailable, '50%');
    assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
    const pm = find(objects, 'PodMonitor') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { podMetricsEndpoints: Record<string, unknown>[] };
    };
    assert.equal(pm.metadata.labels['release'], 'prom');
    const endpoint = pm.spec.podMetricsEndpoints[0];
    for (const key of [
      'interval',
      'scrapeTimeout',
      'tlsConfig',
      'authorization',
      'relabelings',
      'metricRelabelings',
    ] as const) {
      assert.deepEqual(endpoint?.[key], EVERY_VALUE.podMonitor[key], `podMonitor.${key}`);
    }
    const cm = find(objects, 'ConfigMap') as unknown as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    assert.equal(cm.metadata.labels['extra'], 'x');
    assert.deepEqual(cm.metadata.annotations, { grafana_folder: 'Kubernetes' });
    const rule = find(objects, 'PrometheusRule') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: {
        groups: {
          rules: { alert: string; expr: string; for: string; labels: Record<string, string> }[];
        }[];
      };
    };
    assert.equal(rule.metadata.labels['release'], 'prom');
    const rules = new Map(rule.spec.groups[0]?.rules.map((r) => [r.alert, r]));
    assert.equal(rules.get('OxideCCMNodesUninitialized')?.for, '20m');
    assert.equal(rules.get('OxideCCMServicesPendingIngress')?.for, '25m');
    assert.equal(rules.get('OxideCCMWorkqueueStuck')?.for, '30m');
    assert.match(rules.get('OxideCCMOxideAPIErrors')?.expr ?? '', /> 0\.2$/);
    for (const r of rules.values()) {
      assert.equal(r.labels['team'], 'platform');
      assert.match(r.expr, /namespace="kube-system"/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Helm labels on every object of a Helm release; the plain manifest carries none of them', async () => {
  const version = makefileVersion();
  const objects = parseManifest(
    await helm(
      'template',
      'edge',
      CHART_DIR,
      '--set',
      'dashboard.enabled=true,prometheusRule.enabled=true,podMonitor.enabled=true',
    ),
  );
  for (const o of objects) {
    const labels = (o.metadata as { labels?: Record<string, string> }).labels ?? {};
    assert.equal(labels['helm.sh/chart'], `${NAME}-${version}`, `${o.kind} helm.sh/chart`);
    assert.equal(labels['app.kubernetes.io/managed-by'], 'Helm', `${o.kind} managed-by`);
    assert.equal(labels['app.kubernetes.io/version'], version, `${o.kind} version`);
  }
  const manifest = readFileSync(MANIFEST_PATH, 'utf8');
  assert.doesNotMatch(manifest, /helm\.sh\/chart|app\.kubernetes\.io\/managed-by/);
  assert.match(
    manifest,
    new RegExp(`app\\.kubernetes\\.io/version: "${version.replace(/\./g, '\\.')}"`),
  );
});

test('serviceAccount.create=false uses the named ServiceAccount everywhere; rbac.create=false grants nothing', async () => {
  const objects = parseManifest(
    await helm(
      'template',
      'edge',
      CHART_DIR,
      '--set',
      'serviceAccount.create=false,serviceAccount.name=existing',
    ),
  );
  assert.equal(
    objects.some((o) => o.kind === 'ServiceAccount'),
    false,
  );
  const subjects = objects.flatMap((o) =>
    ((o as { subjects?: { name: string }[] }).subjects ?? []).map((s) => s.name),
  );
  assert.ok(subjects.length >= 4, 'the bindings exist');
  assert.deepEqual([...new Set(subjects)], ['existing']);
  const none = parseManifest(
    await helm('template', 'edge', CHART_DIR, '--set', 'rbac.create=false'),
  );
  assert.deepEqual(none.map((o) => o.kind).sort(), [
    'Deployment',
    'PodDisruptionBudget',
    'ServiceAccount',
  ]);
  // And the PDB can be left out.
  const noPdb = parseManifest(await renderManifest('--set', 'podDisruptionBudget.enabled=false'));
  assert.equal(
    noPdb.some((o) => o.kind === 'PodDisruptionBudget'),
    false,
  );
});
