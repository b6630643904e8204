// The registry's gates, without running anything: which enabled controllers are constructed for
// a provider and flags, and the line an operator sees for each one that is not. Constructing a
// controller only asks for informers; no request is sent (the apiserver address is never dialed).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { FakeCloud } from '../../test/fake/cloud.ts';
import type { CloudProvider } from '../cloud/provider.ts';
import { resolveControllers } from '../config/controllers.ts';
import { defaultOptions } from '../config/options.ts';
import type { CcmOptions } from '../config/options.ts';
import { KubeClient } from '../kube/client.ts';
import { KubeEventRecorder } from '../kube/events.ts';
import { SharedInformers } from '../kube/informers.ts';
import { createLogger } from '../log.ts';
import { ALL_CONTROLLERS } from '../names.ts';
import { CONTROLLER_INITIALIZERS, buildControllers } from './registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'registry-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{ name: c, cluster: { server: "https://127.0.0.1:9" } }]',
    'users: [{ name: u, user: { token: t } }]',
    'contexts: [{ name: x, context: { cluster: c, user: u } }]',
    'current-context: x',
    '',
  ].join('\n'),
);

function build(cloud: CloudProvider, options: CcmOptions, controllers: string[] = ['*']) {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const log = createLogger({ format: 'json', errorStream: stream });
  const kube = KubeClient.load(kubeconfig, { qps: 20, burst: 30 });
  const informers = new SharedInformers(kube, log);
  const built = buildControllers(
    () => ({
      kube,
      cloud,
      informers,
      recorder: (component, kind) => new KubeEventRecorder(kube, component, 'h', log, { kind }),
      log,
      clusterName: 'kubernetes',
    }),
    options,
    resolveControllers(controllers).enabled,
  );
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { msg: string; controller?: string });
  return { names: built.map((c) => c.name.name), lines };
}

const NO_CAPABILITIES: CloudProvider = {
  providerName: () => 'none',
  instances: () => undefined,
  loadBalancer: () => undefined,
  routes: () => undefined,
};

const routesOn = (): CcmOptions => ({
  ...defaultOptions(),
  allocateNodeCidrs: true,
  configureCloudRoutes: true,
  clusterCidr: '10.244.0.0/16',
});

test('one initializer per controller name, in the order of names.ts', () => {
  assert.deepEqual(
    CONTROLLER_INITIALIZERS.map((i) => i.name),
    ALL_CONTROLLERS,
  );
});

test('each enabled controller runs when the provider has what it drives', () => {
  const { names, lines } = build(new FakeCloud(), routesOn());
  // The fake cloud has instances and load balancers, no routes.
  assert.deepEqual(names, [
    'cloud-node-controller',
    'cloud-node-lifecycle-controller',
    'service-lb-controller',
  ]);
  assert.deepEqual(
    lines.map((l) => [l.controller, l.msg]),
    [['node-route-controller', 'provider has no routes; not starting']],
  );
});

test('a provider without a capability: a warning per controller that needs it, nothing built', () => {
  const { names, lines } = build(NO_CAPABILITIES, routesOn());
  assert.deepEqual(names, []);
  assert.deepEqual(
    lines.map((l) => [l.controller, l.msg]),
    [
      ['cloud-node-controller', 'provider has no instances; not starting'],
      ['cloud-node-lifecycle-controller', 'provider has no instances; not starting'],
      ['service-lb-controller', 'provider has no load balancers; not starting'],
      ['node-route-controller', 'provider has no routes; not starting'],
    ],
  );
});

test('routes stay off unless Pod CIDRs are allocated and routes are wanted (upstream rule)', () => {
  for (const [allocateNodeCidrs, configureCloudRoutes] of [
    [false, true],
    [true, false],
  ] as const) {
    const { names, lines } = build(
      NO_CAPABILITIES,
      { ...routesOn(), allocateNodeCidrs, configureCloudRoutes },
      ['route'],
    );
    assert.deepEqual(names, []);
    // The flags decide first: their line, not the provider's missing routes.
    assert.deepEqual(lines, [
      {
        ...lines[0],
        msg: 'will not configure cloud provider routes',
        controller: 'node-route-controller',
        allocateNodeCidrs,
        configureCloudRoutes,
      },
    ]);
  }
});

test('only the enabled ones are built: -name and aliases as --controllers resolves them', () => {
  const { names } = build(new FakeCloud(), routesOn(), ['*', '-cloud-node-lifecycle', 'service']);
  assert.deepEqual(names, ['cloud-node-controller', 'service-lb-controller']);
});
