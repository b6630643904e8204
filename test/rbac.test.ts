// The manifest's RBAC grants exactly the API calls the controllers make. The real apiserver's
// authorizer answers SubjectAccessReviews for the CCM's service account after the manifest is
// applied; a few requests are also made for real as that account (kubectl --as) so the binding,
// not just the rules, is exercised.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeClient } from '../src/kube/client.ts';
import { testKube } from './harness/kube.ts';
import { SERVICE_ACCOUNT_USER, applyManifest, kubectl } from './harness/delivery.ts';

interface Access {
  verb: string;
  resource: string;
  subresource?: string;
  group?: string;
  namespace?: string;
  name?: string;
}

// What the code does (see the comments in the chart's clusterrole.yaml for who does what).
const allowed: Access[] = [
  ...['get', 'list', 'watch', 'update', 'delete'].map((verb) => ({ verb, resource: 'nodes' })),
  { verb: 'patch', resource: 'nodes', subresource: 'status' },
  ...['get', 'list', 'watch'].map((verb) => ({ verb, resource: 'services' })),
  { verb: 'patch', resource: 'services', namespace: 'team-a' },
  { verb: 'patch', resource: 'services', subresource: 'status', namespace: 'team-a' },
  { verb: 'create', resource: 'events', namespace: 'default' },
  { verb: 'patch', resource: 'events', namespace: 'team-a' },
  ...['get', 'list', 'watch'].map((verb) => ({
    verb,
    resource: 'endpointslices',
    group: 'discovery.k8s.io',
  })),
  // The cluster identity (src/kube/cluster-id.ts): the namespace kube-system, nothing else.
  { verb: 'get', resource: 'namespaces', namespace: 'kube-system', name: 'kube-system' },
  { verb: 'create', resource: 'leases', group: 'coordination.k8s.io', namespace: 'kube-system' },
  ...['get', 'update'].map((verb) => ({
    verb,
    resource: 'leases',
    group: 'coordination.k8s.io',
    namespace: 'kube-system',
    name: 'cloud-controller-manager',
  })),
  // Load-balancer failover: kubelet heartbeats (src/kube/informers.ts nodeLeases).
  ...['list', 'watch'].map((verb) => ({
    verb,
    resource: 'leases',
    group: 'coordination.k8s.io',
    namespace: 'kube-node-lease',
  })),
  // The secure port's delegated authentication and authorization (src/server/delegation.ts).
  { verb: 'create', resource: 'tokenreviews', group: 'authentication.k8s.io' },
  { verb: 'create', resource: 'subjectaccessreviews', group: 'authorization.k8s.io' },
  ...['get', 'list', 'watch'].map((verb) => ({
    verb,
    resource: 'configmaps',
    namespace: 'kube-system',
    name: 'extension-apiserver-authentication',
  })),
];

// Things a compromised or buggy CCM must not be able to do, and verbs it does not use.
const denied: Access[] = [
  { verb: 'create', resource: 'nodes' },
  { verb: 'patch', resource: 'nodes' },
  { verb: 'delete', resource: 'services', namespace: 'team-a' },
  { verb: 'create', resource: 'services', namespace: 'team-a' },
  { verb: 'update', resource: 'services', namespace: 'team-a' },
  { verb: 'get', resource: 'secrets', namespace: 'kube-system' },
  { verb: 'list', resource: 'secrets' },
  { verb: 'get', resource: 'configmaps', namespace: 'kube-system' },
  { verb: 'get', resource: 'configmaps', namespace: 'kube-system', name: 'kube-proxy' },
  { verb: 'list', resource: 'configmaps', namespace: 'kube-system' },
  {
    verb: 'update',
    resource: 'configmaps',
    namespace: 'kube-system',
    name: 'extension-apiserver-authentication',
  },
  {
    verb: 'get',
    resource: 'configmaps',
    namespace: 'default',
    name: 'extension-apiserver-authentication',
  },
  { verb: 'get', resource: 'namespaces', namespace: 'default', name: 'default' },
  { verb: 'list', resource: 'namespaces' },
  { verb: 'update', resource: 'namespaces', namespace: 'kube-system', name: 'kube-system' },
  { verb: 'create', resource: 'pods', namespace: 'default' },
  { verb: 'create', resource: 'pods', subresource: 'eviction', namespace: 'default' },
  { verb: 'delete', resource: 'events', namespace: 'default' },
  { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system' },
  { verb: 'create', resource: 'endpointslices', group: 'discovery.k8s.io', namespace: 'default' },
  { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: 'default' },
  {
    verb: 'update',
    resource: 'leases',
    group: 'coordination.k8s.io',
    namespace: 'kube-system',
    name: 'kube-controller-manager',
  },
  { verb: 'delete', resource: 'leases', group: 'coordination.k8s.io', namespace: 'kube-system' },
  // Heartbeats are read, never written, and only in kube-node-lease.
  {
    verb: 'update',
    resource: 'leases',
    group: 'coordination.k8s.io',
    namespace: 'kube-node-lease',
    name: 'node-a',
  },
  { verb: 'list', resource: 'leases', group: 'coordination.k8s.io', namespace: 'kube-system' },
  { verb: 'escalate', resource: 'clusterroles', group: 'rbac.authorization.k8s.io' },
  { verb: 'bind', resource: 'clusterroles', group: 'rbac.authorization.k8s.io' },
];

let client: KubeClient;
let kubeconfig: string;

before(async () => {
  ({ client, kubeconfig } = await testKube());
  await applyManifest(kubeconfig);
});

async function can(access: Access): Promise<boolean> {
  const review = await client.post<{ status: { allowed: boolean } }>(
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: SERVICE_ACCOUNT_USER,
        groups: [
          'system:serviceaccounts',
          'system:serviceaccounts:kube-system',
          'system:authenticated',
        ],
        resourceAttributes: {
          verb: access.verb,
          resource: access.resource,
          subresource: access.subresource ?? '',
          group: access.group ?? '',
          namespace: access.namespace ?? '',
          name: access.name ?? '',
        },
      },
    },
  );
  return review.status.allowed;
}

const describe = (a: Access): string =>
  `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''}` +
  `${a.namespace ? ` in ${a.namespace}` : ''}${a.name ? ` named ${a.name}` : ''}`;

test('the service account may make every call the controllers make', async () => {
  const refused = [];
  for (const access of allowed) if (!(await can(access))) refused.push(describe(access));
  assert.deepEqual(refused, []);
});

test('the service account may not do anything else we checked', async () => {
  const granted = [];
  for (const access of denied) if (await can(access)) granted.push(describe(access));
  assert.deepEqual(granted, []);
});

test('as the service account for real: nodes readable, secrets and other leases refused', async () => {
  const as = [`--as=${SERVICE_ACCOUNT_USER}`, '--as-group=system:serviceaccounts'];
  await kubectl(kubeconfig, [...as, 'get', 'nodes', '-o', 'name']);
  await kubectl(kubeconfig, [...as, 'get', 'endpointslices', '-A', '-o', 'name']);
  // The cluster identity's one read.
  assert.match(
    await kubectl(kubeconfig, [
      ...as,
      'get',
      'namespace',
      'kube-system',
      '-o',
      'jsonpath={.metadata.uid}',
    ]),
    /^[0-9a-f-]{36}$/,
  );
  await assert.rejects(
    kubectl(kubeconfig, [...as, 'get', 'namespace', 'default']),
    /Forbidden|forbidden/,
  );
  await assert.rejects(
    kubectl(kubeconfig, [...as, '-n', 'kube-system', 'get', 'secrets']),
    /Forbidden|forbidden/,
  );
  await assert.rejects(
    kubectl(kubeconfig, [...as, '-n', 'default', 'get', 'leases']),
    /Forbidden|forbidden/,
  );
  assert.equal(
    (await kubectl(kubeconfig, [...as, 'auth', 'can-i', 'patch', 'services/status', '-A'])).trim(),
    'yes',
  );
  // What the secure port does at start: read the one ConfigMap, then list+watch it by name.
  const cm = ['-n', 'kube-system', 'get', 'configmaps'];
  await kubectl(kubeconfig, [...as, ...cm, 'extension-apiserver-authentication', '-o', 'name']);
  const byName = '--field-selector=metadata.name=extension-apiserver-authentication';
  assert.match(
    await kubectl(kubeconfig, [...as, ...cm, byName, '-o', 'name']),
    /configmap\/extension-apiserver-authentication/,
  );
  await assert.rejects(kubectl(kubeconfig, [...as, ...cm, '-o', 'name']), /Forbidden|forbidden/);
});
