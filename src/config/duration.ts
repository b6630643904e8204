// Go's time.ParseDuration, because upstream flags take Go durations (`1m30s`, `500ms`, `2h`) and
// users copy them from existing manifests. Returns milliseconds (fractional for ns/us).
import { quote } from '../util/quote.ts';

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration; throws an Error with a one-line message when it is not one. */
export function parseDuration(text: string): number {
  const bad = (): Error =>
    new Error(`invalid duration ${quote(text)} (examples: 15s, 1m30s, 500ms)`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  // Go accepts a bare zero without a unit, and nothing else unitless.
  if (rest === '0') return 0;
  if (rest === '') throw bad();
  let total = 0;
  const part = /^(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/u;
  while (rest.length > 0) {
    const match = part.exec(rest);
    if (!match) throw bad();
    const [whole, number = '', unit = ''] = match;
    if (number === '' || number === '.') throw bad();
    total += Number(number) * (UNIT_MS[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(total)) throw bad();
  return sign * total;
}

/** Formats milliseconds the way Go prints a Duration (for --help defaults and messages). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let seconds = ms / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  let out = '';
  if (hours > 0) out += `${hours}h`;
  if (hours > 0 || minutes > 0) out += `${minutes}m`;
  out += `${Number(seconds.toFixed(3))}s`;
  return out;
}
