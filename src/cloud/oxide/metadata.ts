// Pure mapping from Oxide resources to what the node controller writes on a Node, in the Go CCM
// v0.7.1's format and order so that switching CCMs changes nothing on existing Nodes:
//   instance type  `<ncpus>-<memory in whole GiB>` (e.g. `4-16`)
//   addresses      Hostname (instance hostname); then InternalIP for every NIC address, NIC by
//                  NIC in the API's order, v4 before v6 within a dual-stack NIC; then ExternalIP
//                  for ephemeral and floating IPs in the API's order. SNAT addresses are skipped:
//                  they are shared, outbound-only port ranges, not the Node's address.
//   labels         oxide.computer/instance-id and oxide.computer/project (see ADDITIONAL_LABELS)
import type { ExternalIp, Instance, InstanceNetworkInterface } from '@oxide/api';
import type { InstanceMetadata, NodeAddress } from '../provider.ts';
import { formatProviderID } from './provider-id.ts';

const GiB = 1024 ** 3;

/** Extra Node labels, under Oxide's own domain (never kubernetes.io / k8s.io). */
export const ADDITIONAL_LABELS = {
  /** The instance UUID, for selecting a Node by its instance without parsing providerID. */
  instanceId: 'oxide.computer/instance-id',
  /** The project as configured (name or id), for clusters spanning projects. */
  project: 'oxide.computer/project',
} as const;

export interface Placement {
  /** From configuration; Oxide exposes no regions, so empty unless the operator sets one. */
  region: string;
  /** From configuration; Oxide exposes no zones, so empty unless the operator sets one. */
  zone: string;
  project: string;
}

/** Go CCM format: whole GiB, rounded down (Oxide memory is a byte count). */
export function instanceType(instance: Pick<Instance, 'ncpus' | 'memory'>): string {
  return `${instance.ncpus}-${Math.floor(instance.memory / GiB)}`;
}

export function internalAddresses(nics: readonly InstanceNetworkInterface[]): NodeAddress[] {
  const addresses: NodeAddress[] = [];
  for (const nic of nics) {
    const stack = nic.ipStack;
    const ips =
      stack.type === 'dual_stack' ? [stack.value.v4.ip, stack.value.v6.ip] : [stack.value.ip];
    for (const address of ips) addresses.push({ type: 'InternalIP', address });
  }
  return addresses;
}

export function externalAddresses(ips: readonly ExternalIp[]): NodeAddress[] {
  return ips
    .filter((ip) => ip.kind === 'ephemeral' || ip.kind === 'floating')
    .map((ip) => ({ type: 'ExternalIP', address: ip.ip }));
}

export function nodeAddresses(
  instance: Pick<Instance, 'hostname'>,
  nics: readonly InstanceNetworkInterface[],
  externalIps: readonly ExternalIp[],
): NodeAddress[] {
  const hostname: NodeAddress[] = instance.hostname
    ? [{ type: 'Hostname', address: instance.hostname }]
    : [];
  return [...hostname, ...internalAddresses(nics), ...externalAddresses(externalIps)];
}

export function instanceMetadata(
  instance: Instance,
  nics: readonly InstanceNetworkInterface[],
  externalIps: readonly ExternalIp[],
  placement: Placement,
): InstanceMetadata {
  return {
    providerID: formatProviderID(instance.id),
    instanceType: instanceType(instance),
    nodeAddresses: nodeAddresses(instance, nics, externalIps),
    region: placement.region,
    zone: placement.zone,
    additionalLabels: {
      [ADDITIONAL_LABELS.instanceId]: instance.id,
      [ADDITIONAL_LABELS.project]: placement.project,
    },
  };
}
