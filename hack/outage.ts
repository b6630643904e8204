// Measures how long new Nodes take to initialize after an Oxide outage ends (issue 12, point 2):
// a dedicated kube-apiserver, the simulator answering 503 to every request for OUTAGE seconds,
// the node controller with the product's client settings, NODES kubelet-style Nodes registered
// at the start of the outage and as many during it. Prints one table row; bounded in time.
//   node hack/outage.ts [--outage 180] [--nodes 5]
import { parseArgs } from 'node:util';
import { NodeController } from '../src/controllers/node/controller.ts';
import { TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { testKube, uniqueName } from '../test/harness/kube.ts';
import { createKubeletNode, getNode } from '../test/harness/nodes.ts';
import { startOxideEnv } from '../test/harness/oxide-env.ts';

const { values } = parseArgs({
  options: { outage: { type: 'string', default: '180' }, nodes: { type: 'string', default: '5' } },
});
const outageMs = Number(values.outage) * 1000;
const count = Number(values.nodes);

const { client: kube } = await testKube({ dedicated: true });
const env = await startOxideEnv({ kube });
const nodes = new NodeController(env.ctx, { workers: 4, statusUpdateFrequencyMs: 300_000 });
env.start(nodes);

const names: string[] = [];
const register = async (): Promise<void> => {
  for (let i = 0; i < count; i++) {
    const name = uniqueName('outage');
    env.sim.db.addInstance({
      name,
      nics: [{ primary: true, v4: `172.30.0.${10 + names.length}` }],
    });
    names.push(name);
    await createKubeletNode(kube, name);
  }
};

env.sim.faults.add({ status: 503 });
const began = performance.now();
await register();
await new Promise((r) => setTimeout(r, outageMs / 2));
await register();
await new Promise((r) => setTimeout(r, outageMs / 2));
const failedCalls = env.sim.requests.count();
env.sim.faults.clear();
const ended = performance.now();

const initialized = async (name: string): Promise<boolean> =>
  !(await getNode(kube, name)).spec?.taints?.some((t) => t.key === TAINT_UNINITIALIZED);
const deadline = ended + 20 * 60_000;
let pending = [...names];
while (pending.length > 0 && performance.now() < deadline) {
  const done = await Promise.all(pending.map(initialized));
  pending = pending.filter((_, i) => !done[i]);
  if (pending.length > 0) await new Promise((r) => setTimeout(r, 200));
}
const recovered = performance.now();
console.log(
  [
    `outage_s=${((ended - began) / 1000).toFixed(0)}`,
    `nodes=${names.length}`,
    `oxide_calls_during_outage=${failedCalls}`,
    `initialized=${names.length - pending.length}/${names.length}`,
    `seconds_after_outage_until_all_initialized=${((recovered - ended) / 1000).toFixed(1)}`,
  ].join(' '),
);
await env.stop();
process.exit(pending.length === 0 ? 0 : 1);
