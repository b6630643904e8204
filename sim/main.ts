// `make sim`: the Oxide API simulator on loopback, for pointing the CCM or the SDK at by hand.
//   node sim/main.ts [--seed file.yaml] [--port N] [--token T] [--latency-ms N]
import { parseArgs } from 'node:util';
import { loadSeed } from './seed.ts';
import { startSimulator } from './server.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    port: { type: 'string', default: '0' },
    token: { type: 'string' },
    'latency-ms': { type: 'string', default: '0' },
  },
  strict: true,
});

const number = (flag: string, raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${flag}: expected a non-negative integer, got "${raw}"`);
    process.exit(2);
  }
  return n;
};

const sim = await startSimulator({
  seed: values.seed ? loadSeed(values.seed) : {},
  port: number('port', values.port),
  latencyMs: number('latency-ms', values['latency-ms']),
  ...(values.token ? { token: values.token } : {}),
});

console.log(`# Oxide API simulator listening on ${sim.url} (Ctrl-C stops it)`);
console.log(`export OXIDE_HOST=${sim.url}`);
console.log(`export OXIDE_TOKEN=${sim.token}`);
console.log(`export OXIDE_PROJECT=${sim.project}`);
console.log(
  `# ${sim.db.instances.length} instances: ${sim.db.instances.map((i) => i.name).join(', ')}`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void sim.stop().then(() => process.exit(0));
  });
}
