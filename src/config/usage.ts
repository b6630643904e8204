// --help text, generated from the flag table so it cannot drift from what the parser accepts.
import { PROGRAM } from '../version.ts';
import { formatDuration } from './duration.ts';
import { FLAGS } from './flags.ts';
import type { FlagSpec } from './flags.ts';
import { defaultOptions } from './options.ts';
import { IGNORED_UPSTREAM_FLAGS } from './upstream-flags.ts';

export function defaultText(spec: FlagSpec): string {
  const value = defaultOptions()[spec.key];
  if (spec.type === 'duration' && typeof value === 'number') return formatDuration(value);
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function flagColumn(spec: FlagSpec): string {
  const names = spec.shorthand ? `-${spec.shorthand}, --${spec.name}` : `    --${spec.name}`;
  return spec.type === 'bool' ? names : `${names} ${spec.type}`;
}

export function usage(): string {
  const lines = [
    `Usage: ${PROGRAM} --cloud-provider oxide [flags]`,
    '',
    'The Kubernetes cloud-controller-manager for Oxide racks. Oxide credentials come from',
    'OXIDE_HOST, OXIDE_TOKEN and OXIDE_PROJECT (or their *_FILE forms, OXIDE_PROFILE, or',
    '--cloud-config); see docs/configuration.md.',
    '',
    'Flags:',
  ];
  const width = Math.max(...FLAGS.map((f) => flagColumn(f).length)) + 2;
  for (const spec of FLAGS) {
    const def = defaultText(spec);
    const shown =
      spec.type !== 'bool' && def !== '' && spec.name !== 'v' ? ` (default ${def})` : '';
    lines.push(`  ${flagColumn(spec).padEnd(width)}${spec.help}${shown}`);
  }
  lines.push('', 'Accepted for compatibility with upstream and ignored (with a warning):');
  lines.push(
    ...wrap(
      Object.keys(IGNORED_UPSTREAM_FLAGS).map((n) => `--${n}`),
      96,
    ).map((l) => `  ${l}`),
  );
  return lines.join('\n') + '\n';
}

function wrap(words: string[], width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && line.length + word.length + 1 > width) {
      out.push(line);
      line = '';
    }
    line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out;
}
