import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { InvalidServiceConfigError } from '../../provider.ts';
import { deletionSpec, loadBalancerSpec, SOURCE_RANGES_ANNOTATION } from './spec.ts';

const DEFAULTS = { firewall: false, namedFloatingIps: 'marked' } as const;
const C = { name: 'c', id: 'cluster-a' };

function service(annotations: Record<string, string>, sourceRanges?: string[]): V1Service {
  return {
    metadata: { name: 'web', namespace: 'ns', uid: 'u-1', annotations },
    spec: {
      type: 'LoadBalancer',
      ipFamilies: ['IPv4'],
      ports: [
        { port: 80, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
        { port: 443 },
        { port: 80, protocol: 'TCP' },
        { port: 9, protocol: 'SCTP' },
      ],
      ...(sourceRanges ? { loadBalancerSourceRanges: sourceRanges } : {}),
    },
  };
}

test('one read gives the owner, the floating IPs and the firewall rules wanted', () => {
  const spec = loadBalancerSpec(
    C,
    service({
      'oxide.computer/firewall': 'true',
      [SOURCE_RANGES_ANNOTATION]: ' 203.0.113.0/24, ',
    }),
    DEFAULTS,
  );
  assert.deepEqual(spec.ref, { uid: 'u-1', key: 'c/ns/web', cluster: C, created: undefined });
  assert.equal(spec.baseName, 'c-ns-web');
  assert.deepEqual(spec.floatingIps, [
    {
      name: 'c-ns-web',
      role: 'primary',
      owned: true,
      allocation: { type: 'default', version: undefined, preferVersion: 'v4' },
    },
  ]);
  assert.deepEqual(spec.firewall, {
    sourceRanges: ['203.0.113.0/24'],
    ports: { tcp: ['80', '443'], udp: ['53'] },
    service: 'ns/web',
  });
});

test('source ranges are read only when rules are wanted', () => {
  const bad = service({}, ['10.0.0.0/33']);
  assert.equal(loadBalancerSpec(C, bad, DEFAULTS).firewall, undefined);
  assert.throws(
    () => loadBalancerSpec(C, bad, { ...DEFAULTS, firewall: true }),
    (err: Error) =>
      err instanceof InvalidServiceConfigError &&
      /spec\.loadBalancerSourceRanges/.test(err.message),
  );
});

test('deletion reads an invalid annotation as unset, so the Service can still go', () => {
  const svc = service({
    'oxide.computer/firewall': 'TRUE',
    'oxide.computer/floating-ip-name': 'ends-with-',
    'oxide.computer/floating-ip': 'not-an-ip',
  });
  assert.throws(() => loadBalancerSpec(C, svc, DEFAULTS), InvalidServiceConfigError);
  assert.deepEqual(deletionSpec(C, svc, { firewall: true }), {
    ref: { uid: 'u-1', key: 'c/ns/web', cluster: C, created: undefined },
    baseName: 'c-ns-web',
    firewall: true,
    floatingIpName: undefined,
  });
  const named = service({
    'oxide.computer/firewall': 'false',
    'oxide.computer/floating-ip-name': 'mine',
  });
  assert.deepEqual(deletionSpec(C, named, { firewall: true }).firewall, false);
  assert.equal(deletionSpec(C, named, { firewall: true }).floatingIpName, 'mine');
});

test('spec.loadBalancerIP and the annotation are compared as addresses, not as text', () => {
  const svc = (annotation: string, specIp: string): V1Service => {
    const s = service({ 'oxide.computer/floating-ip': annotation });
    if (s.spec) s.spec.loadBalancerIP = specIp;
    return s;
  };
  const ip = (s: V1Service) => loadBalancerSpec(C, s, DEFAULTS).floatingIps[0]?.allocation;
  assert.deepEqual(ip(svc('::ffff:192.0.2.10', '192.0.2.10')), {
    type: 'explicit',
    ip: '192.0.2.10',
  });
  assert.deepEqual(ip(svc('2001:DB8::0:1', '2001:db8:0::1')), {
    type: 'explicit',
    ip: '2001:db8::1',
  });
  assert.throws(() => ip(svc('192.0.2.10', '192.0.2.11')), /differ/);
  // A zone id in spec.loadBalancerIP is invalid input, not a crash ("Invalid URL") retried forever.
  assert.throws(
    () => ip(svc('', 'fe80::1%eth0')),
    (err: Error) =>
      err instanceof InvalidServiceConfigError && /spec\.loadBalancerIP.*zone id/.test(err.message),
  );
});

test('source ranges: zone ids and mapped IPv4 are not CIDRs; a long one is echoed cut', () => {
  const spec = (ranges: string[]) =>
    loadBalancerSpec(C, service({}, ranges), { ...DEFAULTS, firewall: true });
  for (const bad of ['fe80::%eth0/64', '::ffff:10.0.0.0/104']) {
    assert.throws(() => spec([bad]), InvalidServiceConfigError, bad);
  }
  assert.deepEqual(spec(['2001:db8::/32', '10.0.0.0/8']).firewall?.sourceRanges, [
    '2001:db8::/32',
    '10.0.0.0/8',
  ]);
  assert.throws(
    () => spec([`10.0.0.0/8${'0'.repeat(50_000)}`]),
    (err: Error) => err.message.length < 300 && err.message.includes('(50010 characters)'),
  );
});
