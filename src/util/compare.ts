// Sorting by name without String.prototype.localeCompare: that builds an ICU collator, whose data
// (part of the Node.js binary) then stays resident — about 3 MiB of RSS for a process whose names
// are Kubernetes and Oxide names ([a-z0-9.-]), where code-unit order and the collator's order agree.

/** Code-unit order, as Go's sort.Strings: negative, zero or positive like localeCompare. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
