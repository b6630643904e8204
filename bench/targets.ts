// Benchmarks judge themselves: each bench file declares its targets in code beside the rows that
// measure them, records the measured value, and the "met" column is computed from the two, never
// written by hand. A value is compared exactly as measured (2.04 is not "≤ 2"). Under `make bench`
// (hack/bench.ts) every file's verdicts also go to one JSON-lines file (BENCH_SCORECARD), from
// which the run's single target table is printed and docs/benchmarks.md is written.
import { appendFileSync } from 'node:fs';
import { printTable } from './lib.ts';
import type { Cell } from './lib.ts';

export type Comparison = '<=' | '>=' | '==';

export interface Target {
  /** Unique within the run, e.g. "idle CPU". */
  id: string;
  /** What is measured, in words. */
  what: string;
  compare: Comparison;
  limit: number;
  /** Unit of limit and measured value ("s", "MiB", "calls/Node", "" for counts). */
  unit: string;
  /** The same measurement of the Go CCM v0.7.1, where the issue that set the target has one. */
  goCcm?: string;
  /** The issue that set it. */
  issue?: string;
}

export type Met = 'yes' | 'no' | 'not run';

export interface Verdict {
  target: Target;
  measured: number | undefined;
  met: Met;
  /** What the value is made of, or why it was not measured. */
  note: string;
  /** The bench file that measured it. */
  source: string;
}

/** The comparison, on the value as measured. NaN or no value: not run. */
export function judge(
  target: Pick<Target, 'compare' | 'limit'>,
  measured: number | undefined,
): Met {
  if (measured === undefined || Number.isNaN(measured)) return 'not run';
  switch (target.compare) {
    case '<=':
      return measured <= target.limit ? 'yes' : 'no';
    case '>=':
      return measured >= target.limit ? 'yes' : 'no';
    case '==':
      return measured === target.limit ? 'yes' : 'no';
  }
}

const SYMBOL: Record<Comparison, string> = { '<=': '≤', '>=': '≥', '==': '=' };

export const formatLimit = (t: Pick<Target, 'compare' | 'limit' | 'unit'>): string =>
  `${SYMBOL[t.compare]} ${t.limit}${t.unit ? ` ${t.unit}` : ''}`;

/** Up to 3 significant decimals, so a miss by a little is visible (2.04, not 2). */
export const formatMeasured = (v: number | undefined, unit: string): string =>
  v === undefined || Number.isNaN(v)
    ? ''
    : `${Math.round(v * 1000) / 1000}${unit ? ` ${unit}` : ''}`;

/** One bench file's targets and what it measured for them. */
export class Scorecard {
  private readonly source: string;
  private readonly targets = new Map<string, Target>();
  private readonly measured = new Map<string, { value: number; note: string }>();
  private readonly skipped = new Map<string, string>();

  constructor(source: string, targets: readonly Target[]) {
    this.source = source;
    for (const t of targets) {
      if (this.targets.has(t.id)) throw new Error(`target ${t.id} declared twice`);
      this.targets.set(t.id, t);
    }
  }

  /** The measured value of a declared target (the last one recorded counts). */
  record(id: string, value: number, note = ''): void {
    if (!this.targets.has(id)) throw new Error(`no target ${id} declared in ${this.source}`);
    this.measured.set(id, { value, note });
  }

  /** Why a declared target has no value in this run (a run skipped or failed). */
  notRun(id: string, why: string): void {
    if (!this.targets.has(id)) throw new Error(`no target ${id} declared in ${this.source}`);
    this.skipped.set(id, why);
  }

  verdicts(): Verdict[] {
    return [...this.targets.values()].map((target) => {
      const m = this.measured.get(target.id);
      return {
        target,
        measured: m?.value,
        met: judge(target, m?.value),
        note: m?.note ?? this.skipped.get(target.id) ?? '',
        source: this.source,
      };
    });
  }

  /** Prints the table and, under `make bench`, appends the verdicts to BENCH_SCORECARD. */
  print(header: string[] = []): void {
    const verdicts = this.verdicts();
    printTable(
      ['Targets (met: computed from the limit and the measured value)', ...header],
      verdictRows(verdicts),
    );
    const file = process.env['BENCH_SCORECARD'];
    if (file) for (const v of verdicts) appendFileSync(file, `${JSON.stringify(v)}\n`);
  }
}

export function verdictRows(verdicts: readonly Verdict[]): Record<string, Cell>[] {
  return verdicts.map((v) => ({
    target: v.target.what,
    limit: formatLimit(v.target),
    'Go CCM': v.target.goCcm ?? '',
    measured: formatMeasured(v.measured, v.target.unit),
    met: v.met,
    note: v.note,
  }));
}
