// process_* as client_golang's process collector has them (prom-client's defaults plus the
// network and address-space families it lacks) and prom-client's nodejs_*. Registered only by a
// process that serves /metrics: the default collectors start an event-loop-delay monitor and GC
// observers that a process without a scrape endpoint should not pay for.
import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

const registered = new WeakSet<Registry>();

/** Once per registry: a second call would register every family twice. */
export function registerProcessMetrics(registry: Registry): void {
  if (registered.has(registry)) return;
  registered.add(registry);
  // The event-loop delay histogram (nodejs_eventloop_lag_*) samples every 100 ms, not
  // prom-client's default 10 ms: waking the process 100 times a second cost ~1.5 s of CPU per 10
  // idle minutes on the 2-core bench machine, half of an idle CCM's budget (docs/benchmarks.md).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  new Gauge({
    name: 'process_virtual_memory_max_bytes',
    help: 'Maximum amount of virtual memory available in bytes.',
    registers: [registry],
    collect(): void {
      const limit = procLimit('Max address space');
      if (limit !== undefined) this.set(limit);
    },
  });
  new Counter({
    name: 'process_network_receive_bytes_total',
    help: 'Number of bytes received by the process over the network.',
    registers: [registry],
    collect(): void {
      const bytes = procNetDev()?.receive;
      if (bytes === undefined) return;
      this.reset();
      this.inc(bytes);
    },
  });
  new Counter({
    name: 'process_network_transmit_bytes_total',
    help: 'Number of bytes sent by the process over the network.',
    registers: [registry],
    collect(): void {
      const bytes = procNetDev()?.transmit;
      if (bytes === undefined) return;
      this.reset();
      this.inc(bytes);
    },
  });
}

/** A soft limit from /proc/self/limits; "unlimited" as Go's procfs reports it (2^64-1). */
function procLimit(name: string): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(name));
    const soft = line?.slice(name.length).trim().split(/\s+/)[0];
    if (soft === undefined) return undefined;
    return soft === 'unlimited' ? 2 ** 64 - 1 : Number(soft);
  } catch {
    return undefined;
  }
}

/** Bytes over all interfaces of the process's network namespace, as procfs NetDev().Total(). */
function procNetDev(): { receive: number; transmit: number } | undefined {
  try {
    let receive = 0;
    let transmit = 0;
    for (const line of readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2)) {
      const [, counters] = line.split(':');
      const f = counters?.trim().split(/\s+/).map(Number);
      if (!f || f.length < 9) continue;
      receive += f[0] ?? 0;
      transmit += f[8] ?? 0;
    }
    return { receive, transmit };
  } catch {
    return undefined;
  }
}
