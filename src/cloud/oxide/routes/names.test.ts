import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRouteDescription, routeDescription, routeName, routerName } from './names.ts';

const OXIDE_NAME = /^[a-z]([a-zA-Z0-9-]*[a-zA-Z0-9]+)?$/;

test('router and route names are valid Oxide names of at most 63 characters', () => {
  assert.equal(routerName('kubernetes'), 'kubernetes-pods');
  for (const cluster of ['kubernetes', 'Prod_Cluster.1', '9lives', 'x'.repeat(200), '---']) {
    const router = routerName(cluster);
    const route = routeName(cluster, 'node-a', '10.244.1.0/24');
    for (const name of [router, route]) {
      assert.match(name, OXIDE_NAME, name);
      assert.ok(name.length <= 63, name);
    }
  }
});

test('route names are deterministic per (node, CIDR) and differ otherwise', () => {
  const a = routeName('k', 'node-a', '10.244.1.0/24');
  assert.equal(a, routeName('k', 'node-a', '10.244.1.0/24'));
  assert.notEqual(a, routeName('k', 'node-b', '10.244.1.0/24'));
  assert.notEqual(a, routeName('k', 'node-a', 'fd00:10:244:1::/64'));
});

test('the description maps a route back to its Node and CIDR; foreign descriptions do not', () => {
  assert.deepEqual(parseRouteDescription(routeDescription('k', 'node-a', 'fd00::/64')), {
    clusterName: 'k',
    nodeName: 'node-a',
    cidr: 'fd00::/64',
  });
  assert.equal(parseRouteDescription('not ours'), undefined);
});
