import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeAddress } from '../../cloud/provider.ts';
import { desiredAddresses, nodeAddressesChanged, parseProvidedNodeIPs } from './addresses.ts';
import { desiredLabels } from './labels.ts';

const cloud: NodeAddress[] = [
  { type: 'Hostname', address: 'n1' },
  { type: 'InternalIP', address: '172.30.0.5' },
  { type: 'InternalIP', address: 'fd00::5' },
  { type: 'InternalIP', address: '172.30.1.5' },
  { type: 'ExternalIP', address: '198.51.100.5' },
];

test('without provided-node-ip the provider order is kept', () => {
  assert.deepEqual(desiredAddresses(cloud, [], undefined), { addresses: cloud });
});

test('a provided IP comes first and other addresses of its type are dropped', () => {
  assert.deepEqual(desiredAddresses(cloud, [], '172.30.1.5'), {
    addresses: [
      { type: 'InternalIP', address: '172.30.1.5' },
      { type: 'Hostname', address: 'n1' },
      { type: 'ExternalIP', address: '198.51.100.5' },
    ],
  });
});

test('a dual-stack pair keeps both families; IPv6 compared in canonical form', () => {
  const r = desiredAddresses(cloud, [], '172.30.0.5,fd00:0:0::0005');
  assert.deepEqual(r, {
    addresses: [
      { type: 'InternalIP', address: '172.30.0.5' },
      { type: 'InternalIP', address: 'fd00::5' },
      { type: 'Hostname', address: 'n1' },
      { type: 'ExternalIP', address: '198.51.100.5' },
    ],
  });
});

test('a provided IP that the instance does not have is an error naming it', () => {
  const r = desiredAddresses(cloud, [], '10.0.0.1');
  assert.ok('error' in r && r.error.includes('10.0.0.1'));
});

test("kubelet's Hostname address is kept when the provider has none", () => {
  const noHost = cloud.filter((a) => a.type !== 'Hostname');
  const r = desiredAddresses(noHost, [{ type: 'Hostname', address: 'kubelet-name' }], undefined);
  assert.ok('addresses' in r);
  assert.deepEqual(r.addresses.at(-1), { type: 'Hostname', address: 'kubelet-name' });
});

test('provided-node-ip parsing: any-address means no constraint, bad values are errors', () => {
  assert.deepEqual(parseProvidedNodeIPs('0.0.0.0'), []);
  assert.deepEqual(parseProvidedNodeIPs(' 10.0.0.1 '), ['10.0.0.1']);
  assert.ok('error' in (parseProvidedNodeIPs('10.0.0.1,10.0.0.2') as object));
  assert.ok('error' in (parseProvidedNodeIPs('not-an-ip') as object));
});

test('labels: GA and beta pairs only when non-empty; reserved domains and overwrites refused', () => {
  const labels = desiredLabels(
    {
      providerID: 'oxide://x',
      instanceType: '2-8',
      nodeAddresses: [],
      zone: '',
      region: 'r1',
      additionalLabels: { 'oxide.computer/project': 'k8s', 'k8s.io/x': 'y', team: 'new' },
    },
    { team: 'old' },
  );
  assert.deepEqual(labels, {
    'node.kubernetes.io/instance-type': '2-8',
    'beta.kubernetes.io/instance-type': '2-8',
    'topology.kubernetes.io/region': 'r1',
    'failure-domain.beta.kubernetes.io/region': 'r1',
    'oxide.computer/project': 'k8s',
  });
});

test('the same addresses in another order are no change; any other difference is', () => {
  const fip = { type: 'ExternalIP', address: '203.0.113.9' };
  const current = [...cloud, fip];
  const reordered = [...cloud.slice(0, 4), fip, cloud[4]!];
  assert.equal(nodeAddressesChanged(current, reordered), false);
  assert.equal(nodeAddressesChanged(current, cloud), true);
  assert.equal(nodeAddressesChanged(cloud, [...cloud.slice(0, 4), fip]), true);
  assert.equal(nodeAddressesChanged(undefined, cloud), true);
  assert.equal(
    nodeAddressesChanged(
      cloud,
      cloud.map((a) => (a.type === 'Hostname' ? { ...a, type: 'InternalIP' } : a)),
    ),
    true,
  );
});
