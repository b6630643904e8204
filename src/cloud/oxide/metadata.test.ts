import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExternalIp, Instance, InstanceNetworkInterface, PrivateIpStack } from '@oxide/api';
import { instanceMetadata, instanceType, nodeAddresses } from './metadata.ts';

const GiB = 1024 ** 3;
const ID = '0b0e6f3c-7a9e-4a43-9a5f-1f2e3d4c5b6a';

function instance(overrides: Partial<Instance> = {}): Instance {
  const now = new Date(0);
  return {
    autoRestartEnabled: true,
    description: '',
    enableJumboFrames: false,
    hostname: 'worker-1',
    id: ID,
    memory: 16 * GiB,
    name: 'worker-1',
    ncpus: 4,
    projectId: 'b4a1c2d3-0000-4000-8000-000000000001',
    runState: 'running',
    timeCreated: now,
    timeModified: now,
    timeRunStateUpdated: now,
    ...overrides,
  };
}

function nic(name: string, ipStack: PrivateIpStack, primary = false): InstanceNetworkInterface {
  const now = new Date(0);
  return {
    description: '',
    id: `00000000-0000-4000-8000-${name.padStart(12, '0')}`,
    instanceId: ID,
    ipStack,
    mac: 'a8:40:25:00:00:01',
    name,
    primary,
    subnetId: '00000000-0000-4000-8000-0000000000aa',
    timeCreated: now,
    timeModified: now,
    vpcId: '00000000-0000-4000-8000-0000000000bb',
  };
}

const v4 = (ip: string): PrivateIpStack => ({ type: 'v4', value: { ip, transitIps: [] } });
const v6 = (ip: string): PrivateIpStack => ({ type: 'v6', value: { ip, transitIps: [] } });
const dual = (a: string, b: string): PrivateIpStack => ({
  type: 'dual_stack',
  value: { v4: { ip: a, transitIps: [] }, v6: { ip: b, transitIps: [] } },
});

const pool = '00000000-0000-4000-8000-0000000000cc';
const ephemeral = (ip: string): ExternalIp => ({ kind: 'ephemeral', ip, ipPoolId: pool });
const snat = (ip: string): ExternalIp => ({
  kind: 'snat',
  ip,
  ipPoolId: pool,
  firstPort: 0,
  lastPort: 16383,
});
const floating = (ip: string): ExternalIp => ({
  kind: 'floating',
  ip,
  ipPoolId: pool,
  description: '',
  id: '00000000-0000-4000-8000-0000000000dd',
  instanceId: ID,
  name: 'fip',
  projectId: 'b4a1c2d3-0000-4000-8000-000000000001',
  timeCreated: new Date(0),
  timeModified: new Date(0),
});

describe('instanceType', () => {
  it('is <ncpus>-<memory GiB> like the Go CCM', () => {
    assert.equal(instanceType({ ncpus: 4, memory: 16 * GiB }), '4-16');
    assert.equal(instanceType({ ncpus: 64, memory: 512 * GiB }), '64-512');
  });
  it('rounds partial GiB down like the Go CCM integer division', () => {
    assert.equal(instanceType({ ncpus: 2, memory: 1.5 * GiB }), '2-1');
  });
});

describe('nodeAddresses', () => {
  it('v4-only: Hostname, InternalIP, ExternalIP (ephemeral), never SNAT', () => {
    assert.deepEqual(
      nodeAddresses(
        instance(),
        [nic('net0', v4('172.30.0.5'), true)],
        [snat('203.0.113.8'), ephemeral('203.0.113.7')],
      ),
      [
        { type: 'Hostname', address: 'worker-1' },
        { type: 'InternalIP', address: '172.30.0.5' },
        { type: 'ExternalIP', address: '203.0.113.7' },
      ],
    );
  });

  it('v6-only', () => {
    assert.deepEqual(nodeAddresses(instance(), [nic('net0', v6('fd00::5'), true)], []), [
      { type: 'Hostname', address: 'worker-1' },
      { type: 'InternalIP', address: 'fd00::5' },
    ]);
  });

  it('dual-stack: v4 then v6 of the same NIC', () => {
    assert.deepEqual(
      nodeAddresses(instance(), [nic('net0', dual('172.30.0.5', 'fd00::5'), true)], []),
      [
        { type: 'Hostname', address: 'worker-1' },
        { type: 'InternalIP', address: '172.30.0.5' },
        { type: 'InternalIP', address: 'fd00::5' },
      ],
    );
  });

  it('multi-NIC: NIC by NIC in API order, whichever is primary', () => {
    assert.deepEqual(
      nodeAddresses(
        instance(),
        [
          nic('net0', v4('10.0.0.2')),
          nic('net1', dual('172.30.0.5', 'fd00::5'), true),
          nic('net2', v6('fd00:1::9')),
        ],
        [],
      ).map((a) => a.address),
      ['worker-1', '10.0.0.2', '172.30.0.5', 'fd00::5', 'fd00:1::9'],
    );
  });

  it('ephemeral and floating in API order, SNAT skipped', () => {
    assert.deepEqual(
      nodeAddresses(
        instance(),
        [nic('net0', v4('172.30.0.5'), true)],
        [snat('203.0.113.8'), floating('198.51.100.1'), ephemeral('203.0.113.7')],
      ).filter((a) => a.type === 'ExternalIP'),
      [
        { type: 'ExternalIP', address: '198.51.100.1' },
        { type: 'ExternalIP', address: '203.0.113.7' },
      ],
    );
  });
});

describe('instanceMetadata', () => {
  it('carries providerID, placement from config and oxide.computer labels', () => {
    const md = instanceMetadata(instance({ ncpus: 8, memory: 32 * GiB }), [], [], {
      region: '',
      zone: '',
      project: 'k8s',
    });
    assert.equal(md.providerID, `oxide://${ID}`);
    assert.equal(md.instanceType, '8-32');
    assert.equal(md.region, '');
    assert.equal(md.zone, '');
    assert.deepEqual(md.additionalLabels, {
      'oxide.computer/instance-id': ID,
      'oxide.computer/project': 'k8s',
    });
    assert.deepEqual(md.nodeAddresses, [{ type: 'Hostname', address: 'worker-1' }]);
  });
});
