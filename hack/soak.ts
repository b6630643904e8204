// `make soak SEED=… OPS=…`: a seeded random interleaving of Node, instance and Service operations
// with Oxide faults switched on and off, on the fault matrix's cluster (test/harness/faults-world.ts).
// Safety invariants are checked after every operation; every CONVERGE_EVERY operations (and at
// the end) faults are cleared and the cluster must converge. Bounded in time; on failure it
// prints the seed that reproduces the run and exits 1.
//   node hack/soak.ts [--seed N] [--ops N] [--minutes N]
import { parseArgs } from 'node:util';
import type { FaultSpec } from '../sim/server.ts';
import { World } from '../test/harness/faults-world.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    ops: { type: 'string', default: '200' },
    minutes: { type: 'string', default: '20' },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const ops = Number(values.ops);
const began = performance.now();
const deadline = began + Number(values.minutes) * 60_000;
const CONVERGE_EVERY = 50;
const MAX_NODES = 8;
const MAX_SERVICES = 8;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(seed);
const pick = <T>(items: readonly T[]): T | undefined =>
  items.length === 0 ? undefined : items[Math.floor(rand() * items.length)];

const FAULTS: { name: string; spec?: FaultSpec; revoke?: true }[] = [
  { name: '500', spec: { status: 500 } },
  { name: '503+Retry-After', spec: { status: 503, retryAfterSeconds: 1 } },
  { name: '429+Retry-After', spec: { status: 429, retryAfterSeconds: 1 } },
  { name: 'no answer', spec: { timeout: true } },
  { name: 'slow', spec: { latencyMs: 400 } },
  { name: 'dropped', spec: { drop: true } },
  { name: 'page 2 fails', spec: { method: 'GET', query: /page_token=/, status: 500 } },
  { name: '401 revoked token', revoke: true },
];

console.log(`soak: seed ${seed}, ${ops} operations`);
const world = await World.start();
let fault: (typeof FAULTS)[number] | undefined;
let faultLeft = 0;
const counts: Record<string, number> = {};
const recoveries: number[] = [];

function clearFault(): void {
  world.sim.faults.clear();
  if (fault?.revoke) world.sim.addToken('default', world.sim.token);
  fault = undefined;
}

async function converge(): Promise<void> {
  clearFault();
  for (const name of world.nodes.keys()) await world.setReady(name, true);
  recoveries.push(await world.converge(120_000));
}

let done = 0;
let failure: unknown;
try {
  for (await converge(); done < ops && performance.now() < deadline; done++) {
    if (fault && --faultLeft <= 0) clearFault();
    const nodes = [...world.nodes.keys()];
    const services = [...world.services];
    const r = rand();
    let op: string;
    if (r < 0.15 && nodes.length < MAX_NODES) {
      op = 'add node';
      await world.addNode();
    } else if (r < 0.22 && nodes.length > 1) {
      op = 'remove machine';
      await world.removeMachine(pick(nodes) ?? '');
    } else if (r < 0.27 && nodes.length > 1) {
      op = 'delete node';
      await world.deleteNode(pick(nodes) ?? '');
    } else if (r < 0.42 && services.length < MAX_SERVICES) {
      op = 'add service';
      await world.addService();
    } else if (r < 0.52 && services.length > 0) {
      op = 'delete service';
      await world.deleteService(pick(services) ?? '');
    } else if (r < 0.67 && nodes.length > 0) {
      op = 'node NotReady/Ready';
      await world.setReady(pick(nodes) ?? '', rand() < 0.5);
    } else if (r < 0.85 && !fault) {
      fault = pick(FAULTS);
      faultLeft = 1 + Math.floor(rand() * 8);
      op = `fault ${fault?.name ?? ''}`;
      if (fault?.spec) world.sim.faults.add(fault.spec);
      if (fault?.revoke) world.sim.revokeToken(world.sim.token);
    } else {
      op = 'pause';
    }
    counts[op] = (counts[op] ?? 0) + 1;
    await new Promise((res) => setTimeout(res, Math.floor(rand() * 300)));
    const bad = await world.violations();
    if (bad.length > 0) throw new Error(`after operation ${done + 1} (${op}): ${bad.join('; ')}`);
    if ((done + 1) % CONVERGE_EVERY === 0) await converge();
  }
  await converge();
} catch (err) {
  failure = err;
}
await world.stop();
console.log(`soak: ${done} operations in ${Math.round((performance.now() - began) / 1000)} s:`);
for (const [op, n] of Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)))
  console.log(`  ${op.padEnd(28)} ${n}`);
if (recoveries.length > 0) {
  console.log(
    `soak: ${recoveries.length} convergence checks; slowest ${Math.round(Math.max(...recoveries))} ms after faults cleared`,
  );
}
if (failure !== undefined) {
  console.error(
    `soak FAILED with seed ${seed}: ${failure instanceof Error ? failure.message : JSON.stringify(failure)}`,
  );
  console.error(`reproduce: make soak SEED=${seed} OPS=${ops}`);
  process.exit(1);
}
console.log(`soak: passed (seed ${seed})`);
process.exit(0);
