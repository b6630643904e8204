// Every implemented operation, called over raw HTTP, checked against the Oxide OpenAPI document
// with ajv: the snake_case response body against the documented schema of its status, and each
// request body the test sends against the request schema (the document is in sim/openapi/).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSpec, SpecValidator } from './openapi.ts';
import { ROUTES } from './routes.ts';
import { SIM_API_VERSION, type Simulator, startSimulator } from './server.ts';

const spec = loadSpec();
let sim: Simulator;
let validator: SpecValidator;
const succeeded = new Set<string>();

before(async () => {
  validator = new SpecValidator(spec);
  sim = await startSimulator({
    seed: {
      instances: [
        { name: 'cp-0' },
        { name: 'worker-0', nics: [{ v4: 'auto', v6: 'auto', transitIps: ['10.244.1.0/24'] }] },
        { name: 'worker-1', nics: [{ v6: 'auto' }], runState: 'stopped' },
        { name: 'worker-2', ephemeralIp: 'auto', snatIp: 'auto' },
      ],
    },
  });
  sim.db.createFloatingIp({ name: 'seeded', instance: 'worker-2' });
});
after(() => sim?.stop());

interface Call {
  op: string;
  /** Values for the operation's path template; method and template come from the spec. */ path?: Record<
    string,
    string
  >;
  query?: Record<string, string>;
  body?: unknown;
  status: number;
  token?: string;
}

async function call(c: Call): Promise<unknown> {
  if (c.body !== undefined) {
    assert.deepEqual(validator.request(c.op, c.body), [], `${c.op} request body`);
  }
  const { method, path: template } = validator.operation(c.op);
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = c.path?.[name];
    if (value === undefined) throw new Error(`${c.op}: no value for {${name}}`);
    return encodeURIComponent(value);
  });
  const qs = new URLSearchParams(c.query).toString();
  const res = await fetch(`${sim.url}${path}${qs ? `?${qs}` : ''}`, {
    method,
    headers: {
      authorization: `Bearer ${c.token ?? sim.token}`,
      'api-version': SIM_API_VERSION,
      ...(c.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) }),
  });
  const text = await res.text();
  const body: unknown = text ? JSON.parse(text) : undefined;
  assert.equal(res.status, c.status, `${c.op}: ${text}`);
  assert.deepEqual(
    validator.response(c.op, res.status, body),
    [],
    `${c.op} ${res.status}: ${text}`,
  );
  if (res.status < 300) succeeded.add(c.op);
  return body;
}

const project = { project: 'k8s' };
const inVpc = { project: 'k8s', vpc: 'default' };

test('responses and request bodies match the OpenAPI document', async () => {
  await call({ op: 'ping', status: 200, token: 'none' });
  await call({ op: 'current_user_view', status: 200 });
  await call({ op: 'project_list', status: 200 });
  await call({ op: 'project_view', path: { project: 'k8s' }, status: 200 });

  const instances = (await call({
    op: 'instance_list',
    query: { ...project, limit: '2' },
    status: 200,
  })) as { items: { id: string }[]; next_page: string };
  await call({
    op: 'instance_list',
    query: { ...project, page_token: instances.next_page },
    status: 200,
  });
  const cp = instances.items[0]?.id as string;
  await call({ op: 'instance_view', path: { instance: cp }, status: 200 });
  await call({
    op: 'instance_view',
    path: { instance: 'worker-0' },
    query: project,
    status: 200,
  });
  await call({
    op: 'instance_stop',
    path: { instance: 'worker-0' },
    query: project,
    status: 202,
  });
  await call({
    op: 'instance_start',
    path: { instance: 'worker-1' },
    query: project,
    status: 202,
  });
  await call({
    op: 'instance_external_ip_list',
    path: { instance: 'worker-2' },
    query: project,
    status: 200,
  });

  const nics = (await call({
    op: 'instance_network_interface_list',
    query: { ...project, instance: 'worker-0' },
    status: 200,
  })) as { items: { id: string }[] };
  const nic = nics.items[0]?.id as string;
  await call({ op: 'instance_network_interface_view', path: { interface: nic }, status: 200 });
  await call({
    op: 'instance_network_interface_update',
    path: { interface: nic },
    body: { transit_ips: ['10.244.1.0/24', 'fd00:244::/64'] },
    status: 200,
  });
  await call({
    op: 'vpc_subnet_list_network_interfaces',
    path: { subnet: 'default' },
    query: inVpc,
    status: 200,
  });

  await call({
    op: 'floating_ip_create',
    query: project,
    body: {
      name: 'lb-0',
      description: 'x',
      address_allocator: { type: 'auto', pool_selector: { type: 'auto', ip_version: 'v4' } },
    },
    status: 201,
  });
  await call({
    op: 'floating_ip_create',
    query: project,
    body: {
      name: 'lb-1',
      description: '',
      address_allocator: { type: 'explicit', ip: '2001:db8:100::77' },
    },
    status: 201,
  });
  await call({ op: 'floating_ip_list', query: project, status: 200 });
  await call({
    op: 'floating_ip_view',
    path: { floating_ip: 'lb-0' },
    query: project,
    status: 200,
  });
  await call({
    op: 'floating_ip_update',
    path: { floating_ip: 'lb-0' },
    query: project,
    body: { description: 'ingress' },
    status: 200,
  });
  await call({
    op: 'floating_ip_attach',
    path: { floating_ip: 'lb-0' },
    query: project,
    body: { kind: 'instance', parent: 'cp-0' },
    status: 202,
  });
  await call({ op: 'instance_external_ip_list', path: { instance: cp }, status: 200 });
  await call({
    op: 'floating_ip_detach',
    path: { floating_ip: 'lb-0' },
    query: project,
    status: 202,
  });
  await call({
    op: 'floating_ip_delete',
    path: { floating_ip: 'lb-0' },
    query: project,
    status: 204,
  });

  const pools = (await call({ op: 'ip_pool_list', status: 200 })) as {
    items: { id: string }[];
  };
  await call({ op: 'ip_pool_view', path: { pool: pools.items[0]?.id as string }, status: 200 });

  await call({ op: 'vpc_list', query: project, status: 200 });
  await call({ op: 'vpc_view', path: { vpc: 'default' }, query: project, status: 200 });
  await call({ op: 'vpc_subnet_list', query: inVpc, status: 200 });
  await call({ op: 'vpc_subnet_view', path: { subnet: 'default' }, query: inVpc, status: 200 });
  await call({ op: 'vpc_firewall_rules_view', query: inVpc, status: 200 });
  await call({
    op: 'vpc_firewall_rules_update',
    query: inVpc,
    body: {
      rules: [
        {
          name: 'k8s-lb-http',
          description: 'service',
          status: 'enabled',
          direction: 'inbound',
          action: 'allow',
          priority: 100,
          targets: [{ type: 'instance', value: 'worker-0' }],
          filters: {
            hosts: [{ type: 'ip_net', value: '0.0.0.0/0' }],
            ports: ['80', '30000-32767'],
            protocols: [{ type: 'tcp' }, { type: 'icmp', value: null }],
          },
        },
      ],
    },
    status: 200,
  });

  await call({ op: 'vpc_router_list', query: inVpc, status: 200 });
  await call({ op: 'vpc_router_view', path: { router: 'system' }, query: inVpc, status: 200 });
  await call({
    op: 'vpc_router_create',
    query: inVpc,
    body: { name: 'pods', description: '' },
    status: 201,
  });
  await call({
    op: 'vpc_router_update',
    path: { router: 'pods' },
    query: inVpc,
    body: { description: 'pod routes' },
    status: 200,
  });
  await call({
    op: 'vpc_subnet_update',
    path: { subnet: 'default' },
    query: inVpc,
    body: { custom_router: 'pods' },
    status: 200,
  });
  const inRouter = { ...inVpc, router: 'pods' };
  await call({
    op: 'vpc_router_route_create',
    query: inRouter,
    body: {
      name: 'w0',
      description: '',
      destination: { type: 'ip_net', value: '10.244.1.0/24' },
      target: { type: 'instance', value: 'worker-0' },
    },
    status: 201,
  });
  await call({ op: 'vpc_router_route_list', query: inRouter, status: 200 });
  await call({
    op: 'vpc_router_route_view',
    path: { route: 'w0' },
    query: inRouter,
    status: 200,
  });
  await call({
    op: 'vpc_router_route_update',
    path: { route: 'w0' },
    query: inRouter,
    body: {
      destination: { type: 'ip_net', value: '10.244.2.0/24' },
      target: { type: 'ip', value: '172.30.0.6' },
    },
    status: 200,
  });
  await call({ op: 'vpc_router_route_list', query: { ...inVpc, router: 'system' }, status: 200 });
  await call({
    op: 'vpc_router_route_delete',
    path: { route: 'w0' },
    query: inRouter,
    status: 204,
  });
  await call({ op: 'vpc_router_delete', path: { router: 'pods' }, query: inVpc, status: 204 });

  const missing = ROUTES.map((r) => r.operationId).filter((op) => !succeeded.has(op));
  assert.deepEqual(missing, [], 'every served operation was exercised');
});

test('error responses match the Error schema', async () => {
  const errors: Call[] = [
    { op: 'current_user_view', status: 401, token: 'wrong' },
    { op: 'instance_view', path: { instance: 'nope' }, query: project, status: 404 },
    { op: 'instance_view', path: { instance: 'cp-0' }, status: 400 },
    { op: 'instance_list', query: { ...project, limit: '0' }, status: 400 },
    {
      op: 'floating_ip_create',
      query: project,
      body: { name: 'seeded', description: '' },
      status: 400,
    },
    { op: 'floating_ip_delete', path: { floating_ip: 'seeded' }, query: project, status: 400 },
    {
      op: 'instance_network_interface_update',
      path: { interface: 'net0' },
      query: { ...project, instance: 'cp-0' },
      body: { transit_ips: [] },
      status: 400,
    },
  ];
  for (const e of errors) {
    const body = (await call(e)) as { error_code?: string; request_id: string };
    assert.match(body.request_id, /^[0-9a-f-]{36}$/);
  }
});
