// Plain-text tables for the demo: columns padded to their widest cell, the header bold only when
// stdout is a terminal (and NO_COLOR is unset), so piped or captured output stays plain.

const useColour = (): boolean => process.stdout.isTTY === true && !process.env['NO_COLOR'];

export const style = {
  bold: (s: string): string => (useColour() ? `\x1b[1m${s}\x1b[0m` : s),
  dim: (s: string): string => (useColour() ? `\x1b[2m${s}\x1b[0m` : s),
  green: (s: string): string => (useColour() ? `\x1b[32m${s}\x1b[0m` : s),
  red: (s: string): string => (useColour() ? `\x1b[31m${s}\x1b[0m` : s),
};

/**
 * Renders rows under headers. An empty string shows as `-` (nothing there, like kubectl's
 * `<none>`); `undefined` stays blank (a continuation of the row above).
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly (string | undefined)[])[],
): string {
  const cells = rows.map((r) =>
    headers.map((_, i) => {
      const c = r[i];
      return c === undefined ? '' : c || '-';
    }),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [style.bold(line(headers)), ...cells.map(line)].join('\n');
}
