import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { endpointNodeNames } from './endpoints.ts';
import {
  LABEL_EXCLUDE_FROM_LB,
  TAINT_SHUTDOWN,
  TAINT_TO_BE_DELETED,
  TAINT_UNINITIALIZED,
} from '../../kube/well-known.ts';
import {
  isEligibleNode,
  nodeFingerprint,
  sameIngress,
  serviceFingerprint,
  wantsLoadBalancer,
} from './predicates.ts';

const healthy = (): V1Node => ({
  metadata: { name: 'n1', labels: {} },
  spec: { providerID: 'oxide://i-1', taints: [] },
  status: {
    conditions: [{ type: 'Ready', status: 'True' }],
    addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
  },
});

describe('isEligibleNode', () => {
  it('accepts a Ready, schedulable, initialized Node with a providerID', () => {
    assert.equal(isEligibleNode(healthy()), true);
  });

  const cases: [string, (n: V1Node) => void][] = [
    ['NotReady', (n) => (n.status!.conditions![0]!.status = 'False')],
    ['Ready Unknown', (n) => (n.status!.conditions![0]!.status = 'Unknown')],
    ['no Ready condition', (n) => (n.status!.conditions = [])],
    ['excluded by label (empty value)', (n) => (n.metadata!.labels![LABEL_EXCLUDE_FROM_LB] = '')],
    [
      'autoscaler deletion taint',
      (n) => n.spec!.taints!.push({ key: TAINT_TO_BE_DELETED, effect: 'NoSchedule' }),
    ],
    [
      'uninitialized',
      (n) => n.spec!.taints!.push({ key: TAINT_UNINITIALIZED, effect: 'NoSchedule' }),
    ],
    ['shut down', (n) => n.spec!.taints!.push({ key: TAINT_SHUTDOWN, effect: 'NoSchedule' })],
    ['cordoned', (n) => (n.spec!.unschedulable = true)],
    ['being deleted', (n) => (n.metadata!.deletionTimestamp = new Date())],
    ['no providerID', (n) => delete n.spec!.providerID],
  ];
  for (const [name, breakIt] of cases) {
    it(`rejects a Node that is ${name}`, () => {
      const n = healthy();
      breakIt(n);
      assert.equal(isEligibleNode(n), false);
      assert.equal(nodeFingerprint(n), '');
    });
  }

  it('fingerprint ignores heartbeats but sees address changes', () => {
    const a = healthy();
    const b = healthy();
    b.status!.conditions![0]!.lastHeartbeatTime = new Date();
    assert.equal(nodeFingerprint(a), nodeFingerprint(b));
    b.status!.addresses![0]!.address = '10.0.0.2';
    assert.notEqual(nodeFingerprint(a), nodeFingerprint(b));
  });

  it('fingerprint ignores what no load balancer reads: ExternalIP, Hostname, other labels', () => {
    const a = healthy();
    const b = healthy();
    b.status!.addresses!.push(
      { type: 'ExternalIP', address: '203.0.113.7' },
      { type: 'Hostname', address: 'n1' },
    );
    b.metadata!.labels!['node.kubernetes.io/instance-type'] = '4-16';
    assert.equal(nodeFingerprint(a), nodeFingerprint(b));
    b.spec!.providerID = 'oxide://i-2';
    assert.notEqual(nodeFingerprint(a), nodeFingerprint(b));
  });
});

describe('wantsLoadBalancer', () => {
  const svc = (type: string, cls?: string): V1Service => ({
    spec: { type, ...(cls ? { loadBalancerClass: cls } : {}) },
  });
  const own = 'example.com/own';
  it("takes LoadBalancer Services without a class or with the provider's", () => {
    assert.equal(wantsLoadBalancer(svc('LoadBalancer'), own), true);
    assert.equal(wantsLoadBalancer(svc('LoadBalancer', own), own), true);
    assert.equal(wantsLoadBalancer(svc('LoadBalancer'), undefined), true);
  });
  it('leaves other classes and types alone', () => {
    assert.equal(wantsLoadBalancer(svc('LoadBalancer', 'example.com/other'), own), false);
    assert.equal(wantsLoadBalancer(svc('LoadBalancer', own), undefined), false);
    assert.equal(wantsLoadBalancer(svc('ClusterIP'), own), false);
    assert.equal(wantsLoadBalancer(svc('NodePort'), own), false);
  });
});

describe('serviceFingerprint', () => {
  it('ignores status, finalizers and resourceVersion', () => {
    const a: V1Service = {
      metadata: { uid: 'u', resourceVersion: '1' },
      spec: { type: 'LoadBalancer' },
    };
    const b: V1Service = {
      metadata: { uid: 'u', resourceVersion: '2', finalizers: ['x'] },
      spec: { type: 'LoadBalancer' },
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
    };
    assert.equal(serviceFingerprint(a), serviceFingerprint(b));
    b.metadata!.annotations = { 'oxide.computer/floating-ip-pool': 'p' };
    assert.notEqual(serviceFingerprint(a), serviceFingerprint(b));
  });
});

describe('sameIngress', () => {
  it('compares ip, ipMode (VIP by default) and order', () => {
    const d = [{ ip: '192.0.2.1', ipMode: 'Proxy' as const }, { ip: '10.0.0.1' }];
    assert.equal(
      sameIngress(
        [
          { ip: '192.0.2.1', ipMode: 'Proxy' },
          { ip: '10.0.0.1', ipMode: 'VIP' },
        ],
        d,
      ),
      true,
    );
    assert.equal(
      sameIngress(
        [
          { ip: '10.0.0.1', ipMode: 'VIP' },
          { ip: '192.0.2.1', ipMode: 'Proxy' },
        ],
        d,
      ),
      false,
    );
    assert.equal(sameIngress([{ ip: '192.0.2.1', ipMode: 'VIP' }, { ip: '10.0.0.1' }], d), false);
    assert.equal(sameIngress([{ ip: '192.0.2.1', ipMode: 'Proxy' }], d), false);
    assert.equal(sameIngress([], []), true);
  });
});

describe('endpointNodeNames', () => {
  const slice = (svc: string, eps: V1EndpointSlice['endpoints']): V1EndpointSlice => ({
    metadata: { namespace: 'ns', labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: eps,
  });
  it('returns Nodes with ready endpoints of that Service only', () => {
    const names = endpointNodeNames(
      [
        slice('web', [
          { addresses: ['10.1.0.1'], nodeName: 'a', conditions: { ready: true } },
          { addresses: ['10.1.0.2'], nodeName: 'b', conditions: { ready: false } },
          { addresses: ['10.1.0.3'], nodeName: 'c' },
          { addresses: ['10.1.0.4'], conditions: { ready: true } },
        ]),
        slice('other', [{ addresses: ['10.1.0.5'], nodeName: 'd', conditions: { ready: true } }]),
      ],
      'ns',
      'web',
    );
    assert.deepEqual([...names].sort(), ['a', 'c']);
  });
  it('falls back to serving terminating endpoints when none is ready', () => {
    const names = endpointNodeNames(
      [
        slice('web', [
          {
            addresses: ['10.1.0.1'],
            nodeName: 'a',
            conditions: { ready: false, serving: true, terminating: true },
          },
          {
            addresses: ['10.1.0.2'],
            nodeName: 'b',
            conditions: { ready: false, serving: false, terminating: true },
          },
        ]),
      ],
      'ns',
      'web',
    );
    assert.deepEqual([...names], ['a']);
  });
});
