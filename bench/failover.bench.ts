// How fast load balancers leave dead Nodes, on the real-cluster bed with production timings
// (test/harness/failover-bed.ts: kubelet Leases 40 s renewed every 10 s by kwok,
// kube-controller-manager's default grace period, the CCM as a process, the Oxide simulator):
// 100 LoadBalancer Services on 20 Nodes, then the 5 Nodes carrying the most floating IPs die in
// one of four ways, one row each:
//   instance stopped   the instance stops in Oxide (its kubelet and kube-proxy with it)
//   data plane hung    kube-proxy's /healthz stops answering (Lease renewed, instance running)
//   kubelet dead       the kubelet stops renewing its Lease (kube-proxy and instance fine)
//   NotReady only      kubelet dead, with --lb-failover=none: today's path, for comparison
// Per row: seconds from the kill until every affected Service's floating IP is on a live Node
// (and from the last Lease renewal, where that is the trigger), and the Oxide calls spent
// meanwhile. The dead Nodes come back between rows. Printed for the record, never asserted.
// Run: node_modules/.bin/node bench/failover.bench.ts   (about 5 minutes)
import { FailoverBed } from '../test/harness/failover-bed.ts';
import { formatOps, machine, printTable, sumOps } from './lib.ts';
import type { Cell } from './lib.ts';

const NODES = Array.from({ length: 20 }, (_, i) => `n-${String(i).padStart(2, '0')}`);
const SERVICES = Array.from({ length: 100 }, (_, i) => `s-${String(i).padStart(3, '0')}`);
const KILL = 5;
const NS = 'bench';

type Kill = 'instance stopped' | 'data plane hung' | 'kubelet dead' | 'NotReady only';
const KILLS: Kill[] = ['instance stopped', 'data plane hung', 'kubelet dead', 'NotReady only'];

const bed = await FailoverBed.start({ instances: NODES, waitMs: 300_000 });
const rows: Record<string, Cell>[] = [];
try {
  await bed.joinNodes(NODES);
  await bed.namespace(NS);
  for (const s of SERVICES) await bed.loadBalancer(NS, s);
  await bed.until('every floating IP attached', () =>
    SERVICES.every((s) => bed.holder(NS, s) !== undefined),
  );
  // Health checks have run on every target and spare.
  await new Promise((r) => setTimeout(r, 10_000));

  for (const kill of KILLS) {
    if (kill === 'NotReady only') {
      await bed.restartCcm(['--lb-failover=none']);
      await new Promise((r) => setTimeout(r, 5_000));
    }
    // The 5 Nodes with the most floating IPs.
    const load = new Map<string, number>();
    for (const s of SERVICES) {
      const h = bed.holder(NS, s) ?? '';
      load.set(h, (load.get(h) ?? 0) + 1);
    }
    const victims = [...load.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, KILL)
      .map(([n]) => n);
    const dead = new Set(victims);
    const affected = SERVICES.filter((s) => dead.has(bed.holder(NS, s) ?? ''));
    bed.sim.requests.reset();
    const lastRenewals = await Promise.all(victims.map((n) => bed.renewTime(n)));
    const t0 = performance.now();
    const wall0 = Date.now();
    for (const n of victims) {
      if (kill === 'instance stopped') {
        bed.sim.db.setRunState(n, 'stopped');
        await Promise.all([bed.stopKubelet(n), bed.stopHealth(n)]);
      } else if (kill === 'data plane hung') await bed.stopHealth(n);
      else await bed.stopKubelet(n);
    }
    // Attached to a live Node: not merely detached from the dead one (a move is detach, attach).
    await bed.until(`${affected.length} Services on live Nodes`, () =>
      affected.every((s) => {
        const h = bed.holder(NS, s);
        return h !== undefined && !dead.has(h);
      }),
    );
    const ms = performance.now() - t0;
    const calls = bed.sim.requests.byOperation();
    // For Lease-triggered rows: from the last renewal of the last victim to renew.
    const lastRenewal = Math.max(...lastRenewals.map((r) => r ?? wall0));
    const fromRenewal =
      kill === 'kubelet dead' || kill === 'NotReady only'
        ? `${((wall0 + ms - lastRenewal) / 1000).toFixed(1)}`
        : '';
    rows.push({
      kill,
      'Services moved': affected.length,
      's after the kill': Math.round(ms / 100) / 10,
      's after the last renewal': fromRenewal,
      'Oxide calls': `${sumOps(calls)} (${formatOps(calls)})`,
    });
    // Back to life before the next row.
    for (const n of victims) {
      bed.sim.db.setRunState(n, 'running');
      await bed.startHealth(n);
      await bed.startKubelet(n);
    }
    await bed.until('the dead Nodes usable again', async () => {
      const ready = await Promise.all(victims.map((n) => bed.ready(n)));
      return ready.every((r) => r === 'True');
    });
    // Past the settle time, so they are candidates again.
    await new Promise((r) => setTimeout(r, 25_000));
  }
} finally {
  await bed.stop();
}

console.log(
  `\n## Failover: ${SERVICES.length} Services on ${NODES.length} Nodes, the ${KILL} busiest Nodes die (kubelet Lease 40 s / renew 10 s, KCM default grace period; --lb-failover=health-check,instance-state,lease --lb-instance-poll-period=2s, other failover settings default)\n`,
);
console.log(`machine: ${machine()}\n`);
printTable(Object.keys(rows[0] ?? {}), rows);
