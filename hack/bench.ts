// `make bench`: every bench/*.bench.ts in sequence, as ONE run. Each file prints its tables and
// its targets (bench/targets.ts); this runner collects every verdict, prints the run's single
// target table (what was measured against each declared limit, "met" computed) under a header
// that names the machine, its load and the commit, and with BENCH_DOC=1 writes all of it,
// unedited, into the generated section of docs/benchmarks.md. BENCH_FILES=a,b picks files
// (names without bench/ and .bench.ts); a file that fails is reported and the run goes on.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { machine, printTable } from '../bench/lib.ts';
import { verdictRows } from '../bench/targets.ts';
import type { Verdict } from '../bench/targets.ts';

const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const only = process.env['BENCH_FILES']?.split(',').filter(Boolean);
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !only || only.includes(f.replace(/\.bench\.ts$/, '')))
  .sort();
const scorecard = join(os.tmpdir(), `oxide-ccm-bench-${process.pid}.jsonl`);
rmSync(scorecard, { force: true });

const started = new Date();

/** HEAD, and whether the work tree differs from it. */
function currentCommit(): string {
  try {
    let head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: root }).toString().trim();
    if (dirty) head += ' (with uncommitted changes)';
    return head;
  } catch {
    return 'unknown'; // not a git checkout
  }
}
const commitAtStart = currentCommit();
const loads: number[] = [];
const sampleLoad = (): void => {
  loads.push(os.loadavg()[0] ?? 0);
};
sampleLoad();
const loadTimer = setInterval(sampleLoad, 10_000);

const sections: string[] = [];
const failed: string[] = [];
for (const file of files) {
  const title = `== bench/${file}`;
  console.log(title);
  const t0 = performance.now();
  let out = '';
  const code = await new Promise<number>((resolve) => {
    const child = spawn(node, [join('bench', file)], {
      cwd: root,
      env: { ...process.env, BENCH_SCORECARD: scorecard },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (d: Buffer) => {
      process.stdout.write(d);
      out += d.toString();
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  const minutes = Math.round((performance.now() - t0) / 6000) / 10;
  if (code !== 0) failed.push(`bench/${file} (exit ${code})`);
  sections.push(
    `${title} (${minutes} min${code !== 0 ? `, FAILED with exit ${code}` : ''})\n${out.trimEnd()}`,
  );
}
clearInterval(loadTimer);
sampleLoad();

const verdicts: Verdict[] = existsSync(scorecard)
  ? readFileSync(scorecard, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Verdict)
  : [];
rmSync(scorecard, { force: true });

const commit = currentCommit();
// Named as it was at the start and, if it moved during the run (a commit made while the run
// went on), as it was at the end: the files before the move ran the first, the later ones the
// second.
const commitText =
  commit === commitAtStart ? commit : `${commitAtStart} at start, ${commit} at end`;
const minutes = Math.round((Date.now() - started.getTime()) / 6000) / 10;
const round1 = (n: number): number => Math.round(n * 10) / 10;
const header = [
  `Run: ${started.toISOString()} → ${new Date().toISOString()} (${minutes} min), commit ${commitText}, ${files.length} bench files.`,
  `Machine: ${machine()}, host ${os.hostname()}; load average (1 min) at start ${round1(loads[0] ?? 0)}, at end ${round1(loads.at(-1) ?? 0)}, highest seen ${round1(Math.max(...loads))} (sampled every 10 s; above the CPU count means other processes competed for the CPUs).`,
];
const met = verdicts.filter((v) => v.met === 'yes').length;
const missed = verdicts.filter((v) => v.met === 'no').length;
const notRun = verdicts.filter((v) => v.met === 'not run').length;
console.log('== all targets of this run');
printTable(
  [...header, `${verdicts.length} targets: ${met} met, ${missed} missed, ${notRun} not run.`, ''],
  verdicts.map((v, i) => ({ ...verdictRows([v])[0], source: v.source, '#': i + 1 })),
);
if (failed.length > 0) console.log(`Failed: ${failed.join(', ')}`);

if (process.env['BENCH_DOC'] === '1') {
  const doc = join(root, 'docs', 'benchmarks.md');
  const text = readFileSync(doc, 'utf8');
  const begin = '<!-- bench-run: begin -->';
  const end = '<!-- bench-run: end -->';
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${doc} has no ${begin} … ${end} section`);
  const table = captureTable(
    [...header, `${verdicts.length} targets: ${met} met, ${missed} missed, ${notRun} not run.`, ''],
    verdicts.map((v) => ({ ...verdictRows([v])[0], source: v.source })),
  );
  const generated = [
    begin,
    '<!-- Written by `make bench BENCH_DOC=1` (hack/bench.ts) from one run; do not edit. -->',
    '',
    '### Targets',
    '',
    '```',
    table.trimEnd(),
    '```',
    '',
    '### Every table of the run',
    '',
    '```',
    sections.join('\n\n'),
    ...(failed.length > 0 ? [`Failed: ${failed.join(', ')}`] : []),
    '```',
    '',
  ].join('\n');
  writeFileSync(doc, text.slice(0, from) + generated + text.slice(to));
  console.log(`wrote the run into ${doc}`);
}
process.exit(failed.length > 0 ? 1 : 0);

/** printTable's output as a string. */
function captureTable(headerLines: string[], rows: Record<string, string | number>[]): string {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  try {
    printTable(headerLines, rows);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}
