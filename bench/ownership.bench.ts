// CPU of the load balancer's ownership step (src/cloud/oxide/load-balancer/ownership.ts) over a
// project shared by several clusters: a pass of N Service plans over the project's N floating
// IPs, as a resync of every Service does; each plan relates every floating IP's record to the
// Service and looks for another cluster under this cluster's name. Pure in-process (no
// servers). Printed for the record, never asserted.
// Run: node_modules/.bin/node bench/ownership.bench.ts
import type { FloatingIp } from '@oxide/api';
import { ownedDescription } from '../src/cloud/oxide/load-balancer/owner.ts';
import { planFloatingIps } from '../src/cloud/oxide/load-balancer/ownership.ts';
import { loadBalancerSpec } from '../src/cloud/oxide/load-balancer/spec.ts';
import { silentLogger } from '../src/log.ts';
import { machine, printTable } from './lib.ts';
import type { Cell } from './lib.ts';

const REPEATS = 3;
const A = { name: 'kubernetes', id: '7e0c1c61-33a5-4a37-9d1c-0b6d1bb0c7aa' };
const B = { name: 'prod', id: '2b9d3f6e-5c1b-4d0e-8f7a-9a3c2e1d0b4f' };

/** `n` floating IPs: this cluster's Services' and, with `clusters` 2, as many of another's. */
function project(n: number, clusters: 1 | 2): FloatingIp[] {
  return Array.from({ length: n }, (_, i) => {
    const cluster = clusters === 2 && i % 2 === 1 ? B : A;
    return {
      id: `fip-${i}`,
      name: `${cluster.name}-ns-svc-${i}`,
      ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
      timeCreated: new Date(0),
      description: ownedDescription({
        uid: `uid-${i}`,
        key: `${cluster.name}/ns/svc-${i}`,
        cluster,
      }),
    } as unknown as FloatingIp;
  });
}

const rows: Record<string, Cell>[] = [];
for (const [n, clusters] of [
  [100, 1],
  [1000, 1],
  [1000, 2],
  [3000, 2],
] as const) {
  const fips = project(n, clusters);
  const specs = fips
    .filter((f) => f.name.startsWith('kubernetes-'))
    .map((f) =>
      loadBalancerSpec(
        A,
        {
          metadata: {
            name: f.name.slice('kubernetes-ns-'.length),
            namespace: 'ns',
            uid: `uid-${f.id.slice(4)}`,
          },
          spec: { type: 'LoadBalancer', ipFamilies: ['IPv4'], ports: [{ port: 80 }] },
        },
        { firewall: false, namedFloatingIps: 'marked' },
      ),
    );
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const started = performance.now();
    for (const spec of specs) planFloatingIps(spec, fips, { project: 'k8s', log: silentLogger });
    times.push(performance.now() - started);
  }
  times.sort((x, y) => x - y);
  rows.push({
    'floating IPs': n,
    clusters,
    'plans per pass': specs.length,
    'pass ms (median)': Math.round(times[Math.floor(REPEATS / 2)] ?? 0),
    'µs per plan': Math.round(((times[Math.floor(REPEATS / 2)] ?? 0) * 1000) / specs.length),
  });
}
printTable(
  [`# ownership: one pass of plans over the project's floating IPs (${machine()})`, ''],
  rows,
);
