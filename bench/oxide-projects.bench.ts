// Nodes in several projects (--oxide-projects): how many Oxide calls, and how long, N Nodes
// asking for their metadata at once cost when the cluster's projects are 1, 2 or 4, and when 4
// are configured but only one holds Nodes (calls must grow with the projects in use, not with
// those configured). Simulator latency 50 ms per request. Printed for the record, never asserted.
// Run: node_modules/.bin/node bench/oxide-projects.bench.ts
import type { V1Node } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import { ADDITIONAL_LABELS } from '../src/cloud/oxide/metadata.ts';
import { OxideCloudProvider } from '../src/cloud/oxide/provider.ts';
import { OxideClient } from '../src/oxide/client.ts';
import { machine, printTable } from './lib.ts';

const LATENCY_MS = 50;
const N = 400;

interface Case {
  configured: number;
  /** How many of the configured projects hold the Nodes (spread evenly). */
  inUse: number;
  byProviderID: boolean;
}

async function run(c: Case): Promise<Record<string, string | number>> {
  const projects = Array.from({ length: c.configured }, (_, i) => `p${i}`);
  const sim = await startSimulator({ seed: { project: 'p0' }, latencyMs: LATENCY_MS });
  try {
    for (const p of projects.slice(1)) sim.db.addProject(p);
    const nodes: V1Node[] = [];
    for (let i = 0; i < N; i++) {
      const project = projects[i % c.inUse] ?? 'p0';
      const inst = sim.db.addInstance({
        name: `node-${i}`,
        project,
        nics: [{ primary: true, v4: 'auto' }],
      });
      nodes.push(
        c.byProviderID
          ? {
              metadata: { name: inst.name, labels: { [ADDITIONAL_LABELS.project]: project } },
              spec: { providerID: `oxide://${inst.id}` },
            }
          : { metadata: { name: inst.name } },
      );
    }
    const client = new OxideClient({ host: sim.url, token: sim.token, project: 'p0' });
    const instances = new OxideCloudProvider({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client,
      projects,
    }).instances();
    sim.requests.reset();
    const started = performance.now();
    await Promise.all(nodes.map((node) => instances.instanceMetadata(node)));
    const wallMs = Math.round(performance.now() - started);
    const byOp = sim.requests.byOperation();
    const total = Object.values(byOp).reduce((a, b) => a + b, 0);
    const lists = byOp['instance_list'] ?? 0;
    const walks = byOp['vpc_list'] ?? 0;
    await client.close();
    return {
      workload: `${N} Nodes in ${c.inUse} of ${c.configured} project(s), by ${c.byProviderID ? 'providerID + label' : 'name'}`,
      'Oxide calls': total,
      'instance_list pages': lists,
      'NIC walks (vpc_list)': walks,
      'calls/Node': (total / N).toFixed(2),
      'wall time (ms)': wallMs,
    };
  } finally {
    await sim.stop();
  }
}

const rows: Record<string, string | number>[] = [];
for (const byProviderID of [false, true]) {
  for (const c of [
    { configured: 1, inUse: 1 },
    { configured: 2, inUse: 2 },
    { configured: 4, inUse: 4 },
    { configured: 4, inUse: 1 },
  ]) {
    rows.push(await run({ ...c, byProviderID }));
  }
}
printTable(
  [
    `Instance metadata for ${N} Nodes at once across projects (Instances provider, one inventory per project); simulator latency ${LATENCY_MS} ms per request.`,
    `Machine: ${machine()}`,
  ],
  rows,
);
