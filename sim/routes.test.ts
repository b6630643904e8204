// Route sanity: every route the simulator serves is an operation of the real API, with the same
// method, path template and operationId; plus routing behaviour for paths the API lacks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSpec, specOperations } from './openapi.ts';
import { matchRoute, ROUTES } from './routes.ts';
import { type Simulator, startSimulator } from './server.ts';

const spec = loadSpec();

test('every served route exists in the spec with its method and operationId', () => {
  const ops = specOperations(spec);
  const seen = new Set<string>();
  for (const r of ROUTES) {
    assert.ok(!seen.has(r.operationId), `${r.operationId} served twice`);
    seen.add(r.operationId);
    const op = ops.get(r.operationId);
    assert.ok(op, `${r.operationId} is not in the spec`);
    assert.equal(`${r.method} ${r.path}`, `${op.method} ${op.path}`, r.operationId);
  }
  // What the CCM needs (issue 3, item 3): none of it may silently drop out of the table.
  const needed = [
    'ping',
    'current_user_view',
    'project_list',
    'project_view',
    'instance_list',
    'instance_view',
    'instance_start',
    'instance_stop',
    'instance_external_ip_list',
    'instance_network_interface_list',
    'instance_network_interface_view',
    'instance_network_interface_update',
    'vpc_subnet_list_network_interfaces',
    'floating_ip_list',
    'floating_ip_create',
    'floating_ip_view',
    'floating_ip_update',
    'floating_ip_delete',
    'floating_ip_attach',
    'floating_ip_detach',
    'ip_pool_list',
    'ip_pool_view',
    'vpc_list',
    'vpc_view',
    'vpc_subnet_list',
    'vpc_subnet_view',
    'vpc_subnet_update',
    'vpc_router_list',
    'vpc_router_create',
    'vpc_router_view',
    'vpc_router_update',
    'vpc_router_delete',
    'vpc_router_route_list',
    'vpc_router_route_create',
    'vpc_router_route_view',
    'vpc_router_route_update',
    'vpc_router_route_delete',
    'vpc_firewall_rules_view',
    'vpc_firewall_rules_update',
  ];
  assert.deepEqual(
    needed.filter((op) => !seen.has(op)),
    [],
  );
});

test('literal segments win over variables; known path with another method is 405', () => {
  const m = matchRoute('GET', '/v1/vpc-subnets/default/network-interfaces');
  assert.equal(m.kind === 'route' && m.route.operationId, 'vpc_subnet_list_network_interfaces');
  assert.equal(matchRoute('PATCH', '/v1/instances').kind, 'method-not-allowed');
  assert.equal(matchRoute('GET', '/v1/nothing-here').kind, 'not-found');
});

let sim: Simulator;
before(async () => {
  sim = await startSimulator();
});
after(() => sim.stop());

test('unknown paths are 404 and unknown methods 405, as dropshot answers', async () => {
  const notFound = await fetch(`${sim.url}/v1/nothing-here`);
  assert.equal(notFound.status, 404);
  const body = (await notFound.json()) as Record<string, unknown>;
  assert.equal(body.message, 'Not Found');
  assert.equal(typeof body.request_id, 'string');
  assert.equal((await fetch(`${sim.url}/v1/ping`, { method: 'DELETE' })).status, 405);
  assert.equal(sim.requests.count('unmatched'), 2);
});
