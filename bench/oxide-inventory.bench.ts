// How many Oxide calls, and how long, the Instances provider needs when N Nodes ask for their
// metadata at once (a cluster-wide join), against the simulator with 50 ms latency per request.
// Printed for the record, never asserted. Run: node_modules/.bin/node bench/oxide-inventory.bench.ts
import type { V1Node } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import { OxideClient } from '../src/oxide/client.ts';
import { OxideCloudProvider } from '../src/cloud/oxide/provider.ts';
import { machine, printTable } from './lib.ts';
import { listInstances } from '../src/oxide/instances.ts';

const LATENCY_MS = 50;

interface Row {
  workload: string;
  calls: string;
  perNode: string;
  wallMs: number;
}

async function run(n: number, byProviderID: boolean): Promise<Row> {
  const instances = Array.from({ length: n }, (_, i) => ({
    name: `node-${i}`,
    hostname: `node-${i}`,
    ncpus: 4,
    memoryGiB: 16,
    nics: [{ primary: true, v4: 'auto' }],
  }));
  const sim = await startSimulator({ seed: { project: 'k8s', instances }, latencyMs: LATENCY_MS });
  try {
    const client = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
    const provider = new OxideCloudProvider({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client,
    });
    const instancesApi = provider.instances();
    let nodes: V1Node[] = instances.map((i) => ({ metadata: { name: i.name } }));
    if (byProviderID) {
      const all = await listInstances(client);
      nodes = all.map((i) => ({
        metadata: { name: i.name },
        spec: { providerID: `oxide://${i.id}` },
      }));
      provider.inventory.invalidate();
    }
    sim.requests.reset();
    const started = performance.now();
    await Promise.all(nodes.map((node) => instancesApi.instanceMetadata(node)));
    const wallMs = performance.now() - started;
    const byOp = sim.requests.byOperation();
    const total = Object.values(byOp).reduce((a, b) => a + b, 0);
    const calls = Object.entries(byOp)
      .map(([op, count]) => `${op}=${count}`)
      .join(' ');
    return {
      workload: `${n} Nodes metadata, by ${byProviderID ? 'providerID' : 'name'}`,
      calls: `${total} (${calls})`,
      perNode: (total / n).toFixed(2),
      wallMs: Math.round(wallMs),
    };
  } finally {
    await sim.stop();
  }
}

const rows: Row[] = [];
for (const n of [100, 1000]) {
  rows.push(await run(n, false));
  rows.push(await run(n, true));
}
printTable(
  [
    `Instance metadata for N Nodes at once (Instances provider, shared inventory); simulator latency ${LATENCY_MS} ms per request; per-instance concurrency 16.`,
    `Machine: ${machine()}`,
  ],
  rows.map((r) => ({
    workload: r.workload,
    'Oxide calls': r.calls,
    'calls/Node': r.perNode,
    'wall time (ms)': r.wallMs,
  })),
);
