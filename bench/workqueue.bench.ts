// Throughput and memory of the WorkQueue every controller shares (src/kube/workqueue.ts): adds
// with de-duplication, get/done by async workers, re-adds while a key is being processed, and
// the retry path. Pure in-process (no servers). Printed for the record, never asserted.
// Run: node_modules/.bin/node bench/workqueue.bench.ts
import { ExponentialBackoff, WorkQueue } from '../src/kube/workqueue.ts';
import { collectGarbage, machine, mib, printTable, seconds } from './lib.ts';
import type { Cell } from './lib.ts';

const REPEATS = 3;

interface Workload {
  name: string;
  adds: number;
  keys: number;
  workers: number;
  /** Adds happen while workers run (keys re-added while processing) instead of before. */
  concurrent: boolean;
  /** Every first get of a key fails once and goes through addRateLimited (base 5 ms). */
  retryOnce?: boolean;
}

const workloads: Workload[] = [
  {
    name: 'fill then drain, distinct keys',
    adds: 100_000,
    keys: 100_000,
    workers: 1,
    concurrent: false,
  },
  {
    name: 'fill then drain, 10 adds per key',
    adds: 100_000,
    keys: 10_000,
    workers: 1,
    concurrent: false,
  },
  {
    name: 'adds during processing, 10 workers',
    adds: 100_000,
    keys: 1_000,
    workers: 10,
    concurrent: true,
  },
  {
    name: 'adds during processing, 1 worker',
    adds: 100_000,
    keys: 1_000,
    workers: 1,
    concurrent: true,
  },
  {
    name: 'each key fails once (per-key backoff retry)',
    adds: 10_000,
    keys: 10_000,
    workers: 10,
    concurrent: false,
    retryOnce: true,
  },
];

interface Sample {
  ms: number;
  gets: number;
  heapDelta: number;
  peakHeap: number;
}

async function once(w: Workload): Promise<Sample> {
  collectGarbage();
  const base = process.memoryUsage().heapUsed;
  let peakHeap = base;
  const sampleHeap = (): void => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  };
  // The retry row uses the per-key backoff alone: the controllers' shared 10 qps / 100 burst
  // bucket (controllerRateLimiter) would pace 10k retries over ~17 minutes per run, by design.
  const queue = new WorkQueue({
    name: 'bench',
    ...(w.retryOnce ? { backoff: new ExponentialBackoff(5, 30_000) } : {}),
  });
  const keys = Array.from({ length: w.keys }, (_, i) => `namespace-${i % 97}/object-${i}`);
  let gets = 0;
  let adds = 0;
  const failed = new Set<string>();
  const started = performance.now();

  const produce = async (): Promise<void> => {
    while (adds < w.adds) {
      // Yield every 1000 adds so workers interleave with the producer.
      for (let i = 0; i < 1000 && adds < w.adds; i++) {
        queue.add(keys[adds % w.keys] ?? '');
        adds += 1;
      }
      if (adds % 10_000 === 0) sampleHeap();
      if (w.concurrent) await new Promise<void>((r) => setImmediate(r));
    }
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      gets += 1;
      if (w.retryOnce && !failed.has(key)) {
        failed.add(key);
        queue.done(key);
        queue.addRateLimited(key);
        continue;
      }
      queue.forget(key);
      queue.done(key);
    }
  };

  if (!w.concurrent) {
    await produce();
    sampleHeap();
  }
  const workers = Array.from({ length: w.workers }, worker);
  if (w.concurrent) await produce();
  // Drained: nothing queued, nothing in flight, every retry delivered.
  const expected = w.retryOnce ? w.keys * 2 : undefined;
  while (queue.len() > 0 || (expected !== undefined && gets < expected)) {
    await new Promise<void>((r) => setImmediate(r));
  }
  const ms = performance.now() - started;
  sampleHeap();
  queue.shutDown();
  await Promise.all(workers);
  return { ms, gets, heapDelta: peakHeap - base, peakHeap };
}

const rows: Record<string, Cell>[] = [];
for (const w of workloads) {
  const samples: Sample[] = [];
  for (let i = 0; i < REPEATS; i++) samples.push(await once(w));
  samples.sort((a, b) => a.ms - b.ms);
  const median = samples[Math.floor(samples.length / 2)] as Sample;
  rows.push({
    workload: w.name,
    adds: w.adds,
    keys: w.keys,
    workers: w.workers,
    gets: median.gets,
    'median (ms)': Math.round(median.ms * 10) / 10,
    'adds/s': Math.round(w.adds / (median.ms / 1000)),
    'gets/s': Math.round(median.gets / (median.ms / 1000)),
    'heap growth (MiB)': mib(median.heapDelta),
    'peak heap (MiB)': mib(median.peakHeap),
  });
}
printTable(
  [
    `WorkQueue throughput (src/kube/workqueue.ts), median of ${REPEATS} runs per workload; workers are async loops of get → done; metrics (prom-client) on as in production.`,
    `Machine: ${machine()}`,
    `"gets" < "adds" is de-duplication: a key waiting is stored once. Retry row: gets = 2 × keys, wall time includes the 5 ms backoff timers (per-key backoff only, without the controllers' shared 10 qps bucket).`,
  ],
  rows,
);
console.log(
  `total ${seconds(rows.reduce((a, r) => a + Number(r['median (ms)']) * REPEATS, 0))} s of queue work`,
);
