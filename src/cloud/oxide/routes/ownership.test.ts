import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouterRoute, VpcRouter, VpcSubnet } from '@oxide/api';
import { routeDescription, routerDescription, routerName } from './names.ts';
import { isOurRouter, ourRoute, subnetAttachment } from './ownership.ts';

const router = (name: string, id = 'r1'): VpcRouter =>
  ({ id, name, description: routerDescription('kubernetes'), kind: 'custom' }) as VpcRouter;
const route = (description: string): RouterRoute =>
  ({
    name: 'x',
    description,
    destination: { type: 'ip_net', value: '10.244.1.0/24' },
    target: { type: 'instance', value: 'node-a' },
  }) as RouterRoute;
const subnet = (customRouterId?: string): VpcSubnet =>
  ({ id: 's1', name: 'default', customRouterId }) as VpcSubnet;

test("a router is the cluster's by its name, another cluster's is not", () => {
  assert.equal(isOurRouter(router(routerName('kubernetes')), 'kubernetes'), true);
  assert.equal(isOurRouter(router(routerName('other')), 'kubernetes'), false);
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
