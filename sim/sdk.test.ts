// The simulator through the official SDK: what the CCM's Oxide client will see.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type AddressAllocator,
  Api,
  type ApiResult,
  type RouteDestination,
  type RouteTarget,
  type VpcRouterRouteCreateQueryParams,
} from '@oxide/api';
import { SIM_API_VERSION, type Simulator, startSimulator } from './server.ts';

let sim: Simulator;
let api: Api;

before(async () => {
  sim = await startSimulator({
    seed: {
      instances: [
        { name: 'node-a', ncpus: 4, memoryGiB: 16, hostname: 'node-a.internal' },
        { name: 'node-b', nics: [{ v4: '172.30.0.50', v6: 'auto' }] },
        { name: 'node-c', runState: 'stopped' },
        { name: 'node-d', nics: [{ v6: 'auto' }] },
        { name: 'node-e', ephemeralIp: 'auto', snatIp: 'auto' },
      ],
    },
  });
  api = new Api({ host: sim.url, token: sim.token });
});
after(() => sim.stop());

function ok<T>(r: ApiResult<T>): T {
  if (r.type !== 'success') {
    assert.fail(
      `HTTP ${r.response.status}: ${JSON.stringify(r.type === 'error' ? r.data : r.text)}`,
    );
  }
  return r.data;
}

describe('instances', () => {
  test('the SDK sees the seeded instances exactly as stored', async () => {
    const page = ok(await api.methods.instanceList({ query: { project: sim.project } }));
    assert.deepEqual(
      page.items.map((i) => i.name),
      ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'],
    );
    const a = ok(
      await api.methods.instanceView({ path: { instance: 'node-a' }, query: { project: 'k8s' } }),
    );
    assert.deepEqual(a, sim.db.findInstance('node-a'));
    assert.equal(a.hostname, 'node-a.internal');
    assert.equal(a.ncpus, 4);
    assert.equal(a.memory, 16 * 1024 ** 3);
    assert.equal(a.runState, 'running');
    assert.ok(a.timeCreated instanceof Date, 'the SDK parses time_* into Dates');
    const byId = ok(await api.methods.instanceView({ path: { instance: a.id } }));
    assert.deepEqual(byId, a);
  });

  test('selector rules: id with project is 400, unknown name is 404', async () => {
    const a = sim.db.findInstance('node-a');
    const both = await api.methods.instanceView({
      path: { instance: a.id },
      query: { project: 'k8s' },
    });
    assert.equal(both.type, 'error');
    assert.equal(both.response.status, 400);
    assert.equal(both.type === 'error' && both.data.errorCode, 'InvalidRequest');
    const missing = await api.methods.instanceView({
      path: { instance: 'nope' },
      query: { project: 'k8s' },
    });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.type === 'error' && missing.data.errorCode, 'ObjectNotFound');
    assert.equal(
      missing.type === 'error' && missing.data.message,
      'not found: instance with name "nope"',
    );
  });

  test('NICs carry the v4 / v6 / dual_stack ip_stack variants', async () => {
    const stacks: Record<string, unknown> = {};
    for (const name of ['node-a', 'node-b', 'node-d']) {
      const page = ok(
        await api.methods.instanceNetworkInterfaceList({
          query: { project: 'k8s', instance: name },
        }),
      );
      assert.equal(page.items.length, 1);
      const nic = page.items[0];
      assert.ok(nic);
      assert.equal(nic.primary, true);
      assert.deepEqual(
        nic,
        sim.db.nics.find((n) => n.id === nic.id),
      );
      stacks[name] = nic.ipStack;
    }
    assert.deepEqual(stacks['node-a'], {
      type: 'v4',
      value: { ip: '172.30.0.5', transitIps: [] },
    });
    const b = stacks['node-b'] as {
      type: string;
      value: { v4: { ip: string }; v6: { ip: string } };
    };
    assert.equal(b.type, 'dual_stack');
    assert.equal(b.value.v4.ip, '172.30.0.50');
    assert.match(b.value.v6.ip, /^fd[0-9a-f]{2}:/);
    assert.equal((stacks['node-d'] as { type: string }).type, 'v6');
  });

  test('NIC update (transit_ips) needs a stopped instance', async () => {
    const [nic] = sim.db.nics.filter((n) => n.instanceId === sim.db.findInstance('node-b').id);
    assert.ok(nic);
    const body = { transitIps: ['10.200.0.0/24', 'fd00:10::/64'] };
    const running = await api.methods.instanceNetworkInterfaceUpdate({
      path: { interface: nic.id },
      body,
    });
    assert.equal(running.response.status, 400);
    ok(await api.methods.instanceStop({ path: { instance: 'node-b' }, query: { project: 'k8s' } }));
    const updated = ok(
      await api.methods.instanceNetworkInterfaceUpdate({ path: { interface: nic.id }, body }),
    );
    assert.equal(updated.ipStack.type, 'dual_stack');
    if (updated.ipStack.type === 'dual_stack') {
      assert.deepEqual(updated.ipStack.value.v4.transitIps, ['10.200.0.0/24']);
      assert.deepEqual(updated.ipStack.value.v6.transitIps, ['fd00:10::/64']);
    }
    const started = ok(
      await api.methods.instanceStart({ path: { instance: 'node-b' }, query: { project: 'k8s' } }),
    );
    assert.equal(started.runState, 'running');
  });

  test('pagination with limit=2 walks 5 instances and ends on an empty page', async () => {
    const names: string[] = [];
    let pageToken: string | undefined;
    let requests = 0;
    do {
      const page = ok(
        await api.methods.instanceList({
          query: { project: 'k8s', limit: 2, ...(pageToken ? { pageToken } : {}) },
        }),
      );
      requests++;
      names.push(...page.items.map((i) => i.name));
      assert.ok(page.items.length <= 2);
      pageToken = page.nextPage ?? undefined;
      if (page.items.length === 0) assert.equal(page.nextPage, null);
    } while (pageToken);
    assert.deepEqual(names, ['node-a', 'node-b', 'node-c', 'node-d', 'node-e']);
    assert.equal(requests, 4, 'dropshot sets next_page on every non-empty page');

    const desc = ok(
      await api.methods.instanceList({
        query: { project: 'k8s', limit: 3, sortBy: 'name_descending' },
      }),
    );
    assert.deepEqual(
      desc.items.map((i) => i.name),
      ['node-e', 'node-d', 'node-c'],
    );
    const second = ok(
      await api.methods.instanceList({
        query: { project: 'k8s', pageToken: desc.nextPage ?? '' },
      }),
    );
    assert.deepEqual(
      second.items.map((i) => i.name),
      ['node-b', 'node-a'],
    );
  });

  test('external IPs list ephemeral and SNAT addresses without pagination', async () => {
    const ips = ok(
      await api.methods.instanceExternalIpList({
        path: { instance: 'node-e' },
        query: { project: 'k8s' },
      }),
    );
    assert.deepEqual(ips.items.map((i) => i.kind).sort(), ['ephemeral', 'snat']);
    assert.equal(ips.nextPage, null);
  });
});

describe('credentials and versions', () => {
  test('a wrong token gets the real 401 body', async () => {
    const bad = new Api({ host: sim.url, token: 'oxide-token-wrong' });
    const r = await bad.methods.currentUserView({});
    assert.equal(r.type, 'error');
    assert.equal(r.response.status, 401);
    if (r.type === 'error') {
      assert.equal(r.data.errorCode, 'Unauthorized');
      assert.equal(r.data.message, 'credentials missing or invalid');
      assert.match(r.data.requestId, /^[0-9a-f-]{36}$/);
      assert.equal(r.response.headers.get('x-request-id'), r.data.requestId);
    }
    const me = ok(await api.methods.currentUserView({}));
    assert.equal(me.siloName, sim.db.siloName);
    const ping = ok(await new Api({ host: sim.url }).methods.ping({}));
    assert.equal(ping.status, 'ok', 'ping needs no credentials');
  });

  test('api-version: the SDK version and older are served, a newer one is 400', async () => {
    assert.equal(api.apiVersion, SIM_API_VERSION);
    const get = (version?: string) =>
      fetch(`${sim.url}/v1/me`, {
        headers: {
          authorization: `Bearer ${sim.token}`,
          ...(version ? { 'api-version': version } : {}),
        },
      });
    assert.equal((await get()).status, 200);
    assert.equal((await get('2025120300.0.0')).status, 200);
    const newer = await get('2027010100.0.0');
    assert.equal(newer.status, 400);
    assert.match(((await newer.json()) as { message: string }).message, /does not support/);
  });
});

describe('floating IPs', () => {
  // Every FIP here lives in the seeded project; the cases differ in name and allocator only.
  const createFip = (name: string, description: string, addressAllocator?: AddressAllocator) =>
    api.methods.floatingIpCreate({
      query: { project: 'k8s' },
      body: { name, description, ...(addressAllocator && { addressAllocator }) },
    });

  test('create, attach, detach, delete with the one-instance rules', async () => {
    const fip = ok(
      await createFip('ingress', 'lb', {
        type: 'auto',
        poolSelector: { type: 'auto', ipVersion: 'v4' },
      }),
    );
    assert.equal(fip.instanceId, null);
    assert.match(fip.ip, /^198\.51\.100\./);

    const dup = await createFip('ingress', '');
    assert.equal(dup.response.status, 400);
    assert.equal(dup.type === 'error' && dup.data.errorCode, 'ObjectAlreadyExists');

    const attach = (parent: string) =>
      api.methods.floatingIpAttach({
        path: { floatingIp: 'ingress' },
        query: { project: 'k8s' },
        body: { kind: 'instance', parent },
      });
    const attached = await attach('node-a');
    assert.equal(attached.response.status, 202);
    const a = sim.db.findInstance('node-a');
    assert.equal(ok(attached).instanceId, a.id);
    assert.equal((await attach('node-a')).response.status, 202, 'same instance is a no-op');
    const stolen = await attach('node-c');
    assert.equal(stolen.response.status, 400);
    assert.equal(stolen.type === 'error' && stolen.data.errorCode, 'InvalidRequest');

    const ips = ok(await api.methods.instanceExternalIpList({ path: { instance: a.id } }));
    assert.deepEqual(
      ips.items.map((i) => [i.kind, i.ip]),
      [['floating', fip.ip]],
    );

    const del = await api.methods.floatingIpDelete({ path: { floatingIp: fip.id } });
    assert.equal(del.response.status, 400, 'an attached FIP cannot be deleted');

    const detached = await api.methods.floatingIpDetach({ path: { floatingIp: fip.id } });
    assert.equal(detached.response.status, 202);
    assert.equal(ok(detached).instanceId, null);
    const gone = await api.methods.floatingIpDelete({ path: { floatingIp: fip.id } });
    assert.equal(gone.response.status, 204);
    const view = await api.methods.floatingIpView({ path: { floatingIp: fip.id } });
    assert.equal(view.response.status, 404);
  });

  test('explicit address and pool allocators; both default pools need ip_version', async () => {
    const explicit = ok(await createFip('fixed', '', { type: 'explicit', ip: '198.51.100.200' }));
    assert.equal(explicit.ip, '198.51.100.200');
    const v6 = ok(
      await createFip('six', '', {
        type: 'auto',
        poolSelector: { type: 'explicit', pool: 'default-v6' },
      }),
    );
    assert.match(v6.ip, /^2001:db8:100::/);
    const ambiguous = await createFip('which', '');
    assert.equal(ambiguous.response.status, 400);
    // A v6 FIP needs a v6 address on the primary NIC: node-d is v6-only, node-a v4-only.
    assert.equal(
      (
        await api.methods.floatingIpAttach({
          path: { floatingIp: v6.id },
          body: { kind: 'instance', parent: sim.db.findInstance('node-a').id },
        })
      ).response.status,
      400,
    );
    const onD = sim.db.attachFloatingIp('six', 'node-d');
    assert.equal(onD.instanceId, sim.db.findInstance('node-d').id);
  });

  test('db helpers change the world under the client', async () => {
    const fip = sim.db.createFloatingIp({ name: 'user-made', instance: 'node-c' });
    const listed = ok(await api.methods.floatingIpList({ query: { project: 'k8s' } }));
    assert.equal(listed.items.find((f) => f.name === 'user-made')?.instanceId, fip.instanceId);
    sim.db.deleteInstance('node-c');
    assert.equal(sim.db.findFloatingIp('user-made').instanceId, null);
    const view = await api.methods.instanceView({
      path: { instance: 'node-c' },
      query: { project: 'k8s' },
    });
    assert.equal(view.response.status, 404);
    sim.db.setNicIps('node-a', { v4: '172.30.1.9' });
    const nics = ok(
      await api.methods.instanceNetworkInterfaceList({
        query: { project: 'k8s', instance: 'node-a' },
      }),
    );
    assert.deepEqual(nics.items[0]?.ipStack, {
      type: 'v4',
      value: { ip: '172.30.1.9', transitIps: [] },
    });
  });
});

describe('VPC networking', () => {
  test('default VPC, subnet, system router and firewall rules exist', async () => {
    const vpc = ok(
      await api.methods.vpcView({ path: { vpc: 'default' }, query: { project: 'k8s' } }),
    );
    const subnet = ok(
      await api.methods.vpcSubnetView({
        path: { subnet: 'default' },
        query: { project: 'k8s', vpc: 'default' },
      }),
    );
    assert.equal(subnet.ipv4Block, '172.30.0.0/22');
    assert.match(subnet.ipv6Block, /\/64$/);
    const routers = ok(
      await api.methods.vpcRouterList({ query: { project: 'k8s', vpc: 'default' } }),
    );
    assert.deepEqual(
      routers.items.map((r) => [r.name, r.kind, r.id]),
      [['system', 'system', vpc.systemRouterId]],
    );
    const rules = ok(
      await api.methods.vpcFirewallRulesView({ query: { project: 'k8s', vpc: 'default' } }),
    );
    assert.deepEqual(
      rules.rules.map((r) => r.name),
      ['allow-icmp', 'allow-internal-inbound', 'allow-ssh'],
    );
  });

  test('custom routes go on a custom router attached to a subnet', async () => {
    const createRoute = (
      query: VpcRouterRouteCreateQueryParams,
      name: string,
      destination: RouteDestination,
      target: RouteTarget,
    ) =>
      api.methods.vpcRouterRouteCreate({
        query,
        body: { name, description: '', destination, target },
      });
    const podCidr: RouteDestination = { type: 'ip_net', value: '10.244.0.0/24' };
    const nodeA: RouteTarget = { type: 'instance', value: 'node-a' };
    const onSystem = await createRoute(
      { project: 'k8s', vpc: 'default', router: 'system' },
      'pods',
      podCidr,
      nodeA,
    );
    assert.equal(onSystem.response.status, 400);
    const router = ok(
      await api.methods.vpcRouterCreate({
        query: { project: 'k8s', vpc: 'default' },
        body: { name: 'k8s-pods', description: 'pod CIDRs' },
      }),
    );
    assert.equal(router.kind, 'custom');
    const subnet = ok(
      await api.methods.vpcSubnetUpdate({
        path: { subnet: 'default' },
        query: { project: 'k8s', vpc: 'default' },
        body: { customRouter: 'k8s-pods' },
      }),
    );
    assert.equal(subnet.customRouterId, router.id);
    const route = await createRoute({ router: router.id }, 'pods-a', podCidr, nodeA);
    assert.equal(route.response.status, 201);
    const mixed = await createRoute(
      { router: router.id },
      'mixed',
      { type: 'ip_net', value: 'fd00:244::/64' },
      { type: 'ip', value: '172.30.0.5' },
    );
    assert.equal(mixed.response.status, 400, 'v4 and v6 cannot mix');
    const list = ok(await api.methods.vpcRouterRouteList({ query: { router: router.id } }));
    assert.deepEqual(
      list.items.map((r) => [r.name, r.kind]),
      [['pods-a', 'custom']],
    );
  });

  test('firewall PUT replaces the set and caps it at 1024 rules', async () => {
    const rule = (name: string) => ({
      name,
      description: '',
      status: 'enabled' as const,
      direction: 'inbound' as const,
      action: 'allow' as const,
      priority: 100,
      targets: [{ type: 'vpc' as const, value: 'default' }],
      filters: { ports: ['30000-32767'], protocols: [{ type: 'tcp' as const }] },
    });
    const put = ok(
      await api.methods.vpcFirewallRulesUpdate({
        query: { project: 'k8s', vpc: 'default' },
        body: { rules: [rule('nodeports')] },
      }),
    );
    assert.deepEqual(
      put.rules.map((r) => [r.name, r.filters.hosts]),
      [['nodeports', null]],
    );
    const tooMany = await api.methods.vpcFirewallRulesUpdate({
      query: { project: 'k8s', vpc: 'default' },
      body: { rules: Array.from({ length: 1025 }, (_, i) => rule(`r${i}`)) },
    });
    assert.equal(tooMany.response.status, 400);
    assert.equal(sim.db.firewallRules().length, 1);
  });
});
