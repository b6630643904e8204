// What every benchmark shares: the machine line, aligned tables, peak-memory sampling, a
// KubeClient that counts its requests, the scenario loop on one kube-apiserver, and forced
// garbage collection between rows so that one row's garbage does not show up in the next row's
// peak.
import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadKubeconfig } from '../src/kube/kubeconfig.ts';
import { KubeClient } from '../src/kube/client.ts';
import type { KubeClientOptions, RequestOptions } from '../src/kube/client.ts';
import { mapConcurrent } from '../src/util/async.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';

export function machine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  return `${cpus.length} CPUs (${model}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}, ${os.platform()} ${os.release()}`;
}

export type Cell = string | number;

/** Prints a header block and an aligned plain-text table (numbers right-aligned). */
export function printTable(header: string[], rows: Record<string, Cell>[]): void {
  for (const line of header) console.log(line);
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] ?? {});
  const text = (v: Cell | undefined): string => (v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const line = (cells: string[], numeric: boolean[]): string =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const isNumeric = columns.map((c) => rows.every((r) => typeof r[c] === 'number'));
  console.log(line(columns, isNumeric));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) {
    console.log(
      line(
        columns.map((c) => text(r[c])),
        isNumeric,
      ),
    );
  }
  console.log('');
}

/** Samples process memory every few ms; peak RSS and peak V8 heap in MiB. */
export class MemorySampler {
  private timer: NodeJS.Timeout | undefined;
  peakRss = 0;
  peakHeap = 0;

  start(intervalMs = 20): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    return this;
  }

  stop(): { rssMiB: number; heapMiB: number } {
    clearInterval(this.timer);
    this.sample();
    return { rssMiB: mib(this.peakRss), heapMiB: mib(this.peakHeap) };
  }

  private sample(): void {
    const m = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakHeap = Math.max(this.peakHeap, m.heapUsed);
  }
}

export const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

let gcFn: (() => void) | undefined;
/** A full GC, so the next row starts from the live set only. */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/**
 * The product's KubeClient (same limiter, same transport), counting every request it makes by
 * verb and resource, e.g. "PATCH nodes/status". Watches run on client-node's Watch and are not
 * requests of this client, so they are not counted (they are long-lived streams, not QPS).
 */
export class CountingKubeClient extends KubeClient {
  readonly counts = new Map<string, number>();

  static loadCounting(kubeconfig: string, options: KubeClientOptions): CountingKubeClient {
    return new CountingKubeClient(loadKubeconfig(kubeconfig), options);
  }

  override request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const collection = !resourcePath(path).includes('/');
    const key = `${method === 'GET' && collection ? 'LIST' : method} ${resourceOf(path)}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    return super.request<T>(method, path, options);
  }

  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  reset(): void {
    this.counts.clear();
  }

  /** "PUT nodes=100 PATCH nodes/status=100 POST events=100", per unit when divided. */
  breakdown(per = 1): string {
    return [...this.counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${formatRatio(v / per)}`)
      .join(', ');
  }
}

/** /api/v1/namespaces/ns/services/x/status → services/x/status (group and namespace dropped). */
function resourcePath(path: string): string {
  const p = path.split('?')[0] ?? '';
  return p
    .replace(/^\/api\/v1\//, '')
    .replace(/^\/apis\/[^/]+\/[^/]+\//, '')
    .replace(/^namespaces\/[^/]+\/(?=.)/, '');
}

function resourceOf(path: string): string {
  const parts = resourcePath(path).split('/');
  // resource[/name[/subresource]] → resource[/subresource]
  return parts.length >= 3 ? `${parts[0]}/${parts[2]}` : (parts[0] ?? '');
}

export function formatRatio(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

/** "op=n, op=n" per unit, sorted by name. */
export function formatOps(byOp: Record<string, number>, per = 1): string {
  return Object.entries(byOp)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op}=${formatRatio(n / per)}`)
    .join(', ');
}

export const sumOps = (byOp: Record<string, number>): number =>
  Object.values(byOp).reduce((a, b) => a + b, 0);

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export const seconds = (ms: number): number => Math.round(ms / 10) / 100;

/** Runs fn over items with at most `limit` in flight. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  await mapConcurrent(items, limit, fn);
}

/** Polls fn every intervalMs until truthy; throws after timeoutMs with `what`. */
export async function until(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`benchmark gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until the client's request count stops moving: events are written asynchronously behind
 * the same limiter, so a phase's count must wait for them.
 */
export async function untilWritesDrain(kube: CountingKubeClient): Promise<void> {
  let last = -1;
  await until(
    'event writes to drain',
    () => {
      const now = kube.total();
      const quiet = now === last;
      last = now;
      return quiet;
    },
    60_000,
    500,
  );
}

/** Runs each scenario in turn, saying on stderr how long each row took. */
export async function runRows<S, R>(
  bench: string,
  scenarios: readonly S[],
  run: (scenario: S, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (const [i, s] of scenarios.entries()) {
    const started = performance.now();
    results.push(await run(s, i));
    console.error(
      `${bench} row ${i + 1}/${scenarios.length} done in ${seconds(performance.now() - started)} s`,
    );
  }
  return results;
}

/** Runs each scenario in turn against one kube-apiserver started for the benchmark. */
export async function runScenarios<S, R>(
  bench: string,
  scenarios: readonly S[],
  run: (kubeconfig: string, scenario: S, index: number) => Promise<R>,
): Promise<R[]> {
  const controlPlane = new ControlPlane({ detachFromProcess: true });
  try {
    const { kubeconfig } = await controlPlane.start();
    return await runRows(bench, scenarios, (s, i) => run(kubeconfig, s, i));
  } finally {
    await controlPlane.stop();
  }
}

/**
 * A subnet for the simulated instances of a bench whose Nodes are many: a /18 (16 000 addresses)
 * on loopback. Load-balancer failover's health checks (on by default) go to each target Node's
 * InternalIP, and this machine's rule is that load stays on loopback: with the simulator's
 * default subnet (172.30.0.0/22) they left the machine, and where something on the network
 * answered them (a proxy answering 404 for any address here) every checked Node turned
 * "failing", Services kept being re-synced and the idle run never went quiet. Nothing listens
 * on these addresses, so every check is refused at once: the case of a CCM that cannot reach
 * its Nodes (the checks are then "unanswered" and decide nothing). bench/failover-cost.bench.ts
 * measures checks that Nodes answer.
 */
export const BENCH_SUBNET = { name: 'bench', ipv4Block: '127.64.0.0/18' } as const;
