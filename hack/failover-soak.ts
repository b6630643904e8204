// `make failover-soak MINUTES=30`: the no-flap proof of load-balancer failover at length, on the
// production-timing bed (test/harness/failover-bed.ts): 50 Nodes, one LoadBalancer Service each,
// every kubelet Lease renewal late by a random delay of up to one renew interval, the apiserver
// frozen for 20 s twice (at a third and two thirds of the run). Prints the moves (expected: 0)
// and exits 1 if there was any. `make test` runs the same scenario for 80 s
// (test/cluster-failover.test.ts).
//   node hack/failover-soak.ts [--minutes N] [--nodes N]
import { parseArgs } from 'node:util';
import { FailoverBed, lateRenewals } from '../test/harness/failover-bed.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    nodes: { type: 'string', default: '50' },
  },
});
const minutes = Number(values.minutes);
const nodes = Array.from({ length: Number(values.nodes) }, (_, i) => `soak-${i}`);
const bed = await FailoverBed.start({ instances: nodes, waitMs: 300_000 });
let moves = -1;
try {
  await bed.joinNodes(nodes);
  const started = performance.now();
  const r = await lateRenewals(bed, 'soak', nodes, nodes.length, minutes * 60, [1 / 3, 2 / 3]);
  moves = r.moves;
  console.log(
    `failover soak: ${r.services} Services on ${nodes.length} Nodes, ${((performance.now() - started) / 60_000).toFixed(1)} min, ${r.pauses} apiserver pauses of 20 s, renewals late by up to 10 s: ${r.moves} moves, ${r.events} MovedLoadBalancer events`,
  );
} finally {
  await bed.stop();
}
process.exit(moves === 0 ? 0 : 1);
