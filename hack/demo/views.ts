// What the demo shows: Nodes as the CCM sees and changes them, LoadBalancer Services with their
// ingress, and where each floating IP is attached in the simulator.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { Simulator } from '../../sim/server.ts';
import { TAINT_UNINITIALIZED } from '../../src/kube/well-known.ts';
import { renderTable } from './table.ts';

const LABEL_INSTANCE_TYPE = 'node.kubernetes.io/instance-type';

export const isInitialized = (n: V1Node): boolean =>
  !(n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED);

/** Ready (kwok's heartbeat) and without node.kubernetes.io/not-ready (removed by KCM). */
export const isReadyUntainted = (n: V1Node): boolean =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
  !(n.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready');

const readiness = (n: V1Node): string => {
  const status = n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return status === 'True' ? 'Ready' : status === undefined ? '-' : 'NotReady';
};

/** `Hostname=a InternalIP=b,c ExternalIP=d`, in the order the Node lists them. */
function addresses(node: V1Node): string {
  const byType = new Map<string, string[]>();
  for (const a of node.status?.addresses ?? []) {
    byType.set(a.type, [...(byType.get(a.type) ?? []), a.address]);
  }
  return [...byType].map(([type, list]) => `${type}=${list.join(',')}`).join(' ');
}

const taints = (node: V1Node): string =>
  (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).join(',');

export function nodesTable(nodes: readonly V1Node[]): string {
  return renderTable(
    ['NODE', 'PROVIDER ID', 'INSTANCE TYPE', 'ADDRESSES', 'TAINTS', 'STATUS'],
    nodes.map((n) => [
      n.metadata?.name ?? '',
      n.spec?.providerID ?? '',
      n.metadata?.labels?.[LABEL_INSTANCE_TYPE] ?? '',
      addresses(n),
      taints(n),
      readiness(n),
    ]),
  );
}

/** The floating-IP entries of a load balancer status (the Oxide CCM marks them ipMode Proxy). */
export const floatingIngress = (svc: V1Service): { ip: string; ipMode: string }[] =>
  (svc.status?.loadBalancer?.ingress ?? [])
    .filter((i) => i.ip && i.ipMode === 'Proxy')
    .map((i) => ({ ip: i.ip ?? '', ipMode: i.ipMode ?? '' }));

export function servicesTable(services: readonly V1Service[], sim: Simulator): string {
  const instanceName = new Map(sim.db.instances.map((i) => [i.id, i.name]));
  const fipByIp = new Map(sim.db.floatingIps.map((f) => [f.ip, f]));
  const rows: (string | undefined)[][] = [];
  for (const svc of services) {
    const ingress = svc.status?.loadBalancer?.ingress ?? [];
    const families = (svc.spec?.ipFamilies ?? []).join(',');
    const annotations = Object.entries(svc.metadata?.annotations ?? {})
      .filter(([k]) => k.startsWith('oxide.computer/'))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    if (ingress.length === 0) {
      rows.push([svc.metadata?.name ?? '', families, annotations, '(pending)', '', '', '']);
      continue;
    }
    ingress.forEach((i, n) => {
      const fip = fipByIp.get(i.ip ?? '');
      const attached = fip?.instanceId ? (instanceName.get(fip.instanceId) ?? fip.instanceId) : '';
      rows.push([
        n === 0 ? (svc.metadata?.name ?? '') : undefined,
        n === 0 ? families : undefined,
        n === 0 ? annotations : undefined,
        i.ip ?? i.hostname ?? '',
        i.ipMode ?? '',
        fip ? fip.name : 'Node InternalIP',
        fip ? attached : undefined,
      ]);
    });
  }
  return renderTable(
    [
      'SERVICE',
      'IP FAMILIES',
      'ANNOTATIONS',
      'INGRESS',
      'IP MODE',
      'OXIDE FLOATING IP',
      'ATTACHED TO',
    ],
    rows,
  );
}

export function apiCallsTable(sim: Simulator): string {
  const counts = Object.entries(sim.requests.byOperation()).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  );
  const total = counts.reduce((s, [, n]) => s + n, 0);
  return renderTable(
    ['OXIDE API OPERATION', 'CALLS'],
    [...counts.map(([op, n]) => [op, String(n)]), ['total', String(total)]],
  );
}
