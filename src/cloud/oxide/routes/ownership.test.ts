import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouterRoute, VpcRouter, VpcSubnet } from '@oxide/api';
import { routeDescription, routerDescription, routerName } from './names.ts';
import { isOurRouter, ourRoute, routerOwnership, subnetAttachment } from './ownership.ts';

const CLUSTER = { name: 'kubernetes', id: 'cluster-a' };
const router = (name: string, id = 'r1', description = routerDescription(CLUSTER)): VpcRouter =>
  ({ id, name, description, kind: 'custom' }) as VpcRouter;
const route = (description: string): RouterRoute =>
  ({
    name: 'x',
    description,
    destination: { type: 'ip_net', value: '10.244.1.0/24' },
    target: { type: 'instance', value: 'node-a' },
  }) as RouterRoute;
const subnet = (customRouterId?: string): VpcSubnet =>
  ({ id: 's1', name: 'default', customRouterId }) as VpcSubnet;

test("a router is the cluster's by its name and identity, another cluster's is not", () => {
  assert.equal(isOurRouter(router(routerName('kubernetes')), CLUSTER), true);
  assert.equal(isOurRouter(router(routerName('other')), CLUSTER), false);
  const named = routerName('kubernetes');
  // Another cluster of the same --cluster-name: its router, never ours.
  const theirs = router(named, 'r2', routerDescription({ name: 'kubernetes', id: 'cluster-b' }));
  assert.equal(routerOwnership(theirs, CLUSTER), 'another');
  assert.equal(isOurRouter(theirs, CLUSTER), false);
  // v0.8's record (no identity): ours, to upgrade.
  const v08 = router(named, 'r3', routerDescription({ name: 'kubernetes', id: '' }));
  assert.equal(
    v08.description,
    'Pod CIDR routes of Kubernetes cluster kubernetes, managed by oxide-cloud-controller-manager',
  );
  assert.equal(routerOwnership(v08, CLUSTER), 'legacy');
  assert.equal(routerOwnership(router(named), CLUSTER), 'ours');
  assert.match(router(named).description, / cluster-id=cluster-a$/);
});

test("a route is the cluster's only when its record names the cluster", () => {
  assert.deepEqual(
    ourRoute(route(routeDescription('kubernetes', 'n', '10.244.1.0/24')), 'kubernetes'),
    {
      clusterName: 'kubernetes',
      nodeName: 'n',
      cidr: '10.244.1.0/24',
    },
  );
  assert.equal(
    ourRoute(route(routeDescription('other', 'n', '10.244.1.0/24')), 'kubernetes'),
    undefined,
  );
  assert.equal(ourRoute(route('a user route'), 'kubernetes'), undefined);
});

test('a subnet is free, ours, or holds another custom router (never replaced)', () => {
  const ours = router(routerName('kubernetes'), 'r1');
  assert.equal(subnetAttachment(subnet(), ours), 'free');
  assert.equal(subnetAttachment(subnet('r1'), ours), 'ours');
  assert.equal(subnetAttachment(subnet('r2'), ours), 'another');
});
