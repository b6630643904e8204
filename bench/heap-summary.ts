// Where a V8 heap snapshot's bytes are: live heap total and the largest groups by node type and
// constructor name (self sizes; a snapshot holds only objects that survived the GC it starts with).
// Also runnable by hand: node bench/heap-summary.ts Heap.…heapsnapshot [top]
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  totalMiB: number;
  objects: number;
  top: { kind: string; count: number; MiB: number }[];
}

export function summarizeHeapSnapshot(file: string, topN = 12): HeapSummary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? '?';
    const size = snap.nodes[i + sizeAt] ?? 0;
    total += size;
    // Objects and native objects by constructor; strings, code, arrays etc. by type.
    const kind =
      type === 'object' || type === 'native'
        ? `${type === 'native' ? 'native ' : ''}${snap.strings[snap.nodes[i + nameAt] ?? 0] ?? '?'}`
        : `(${type})`;
    const g = groups.get(kind) ?? { count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += size;
    groups.set(kind, g);
  }
  const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
  return {
    totalMiB: mib(total),
    objects: snap.nodes.length / width,
    top: [...groups.entries()]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, topN)
      .map(([kind, g]) => ({ kind: kind.slice(0, 60), count: g.count, MiB: mib(g.bytes) })),
  };
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bench/heap-summary.ts <file.heapsnapshot> [top]');
    process.exit(2);
  }
  const s = summarizeHeapSnapshot(file, Number(top ?? 25));
  console.log(`live heap ${s.totalMiB} MiB in ${s.objects} objects`);
  for (const t of s.top)
    console.log(`${String(t.MiB).padStart(8)} MiB ${String(t.count).padStart(9)}  ${t.kind}`);
}
