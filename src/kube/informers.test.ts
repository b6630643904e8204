import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slimLease } from './informers.ts';

test('a kubelet Lease is stored as its name, resourceVersion and renewTime only', () => {
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'node-a',
      namespace: 'kube-node-lease',
      resourceVersion: '42',
      uid: 'u',
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'n' }],
      managedFields: [{ manager: 'kubelet', operation: 'Update' }],
    },
    spec: {
      holderIdentity: 'node-a',
      leaseDurationSeconds: 40,
      renewTime: '2026-12-07T22:00:00.123456Z',
    },
  };
  assert.deepEqual(slimLease(lease), {
    metadata: { name: 'node-a', resourceVersion: '42' },
    spec: { renewTime: '2026-12-07T22:00:00.123456Z' },
  });
  assert.deepEqual(slimLease({ metadata: { name: 'new' } }), {
    metadata: { name: 'new', resourceVersion: undefined },
    spec: {},
  });
});
