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
    'image.repository=registry.example/occm,image.tag=9.9.9-rc.1,replicaCount=2',
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
  assert.equal(deployment.spec.replicas, 2);
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

test('helm lint --strict passes', async () => {
  const out = await helm('lint', '--strict', CHART_DIR);
  assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
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

test('values.schema.json rejects wrong types and values', async () => {
  for (const bad of ['replicaCount=-1', 'image.pullPolicy=Sometimes', 'securePort=70000']) {
    await assert.rejects(
      renderManifest('--set', bad),
      /don't meet the specifications of the schema/,
    );
  }
  await assert.rejects(
    renderManifest('--set-json', 'leaderElection={"enabled":"yes"}'),
    /leaderElection\/enabled/,
  );
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
