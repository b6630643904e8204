// The signal between the steps and the FIP view: a write (or a plan) failed in a way the FIP list
// it was made from cannot explain, so someone else changed the project's FIPs. The reconcile runs
// once more on a fresh list (FloatingIps.withView).

export class StaleViewError extends Error {
  override readonly name = 'StaleViewError';
}

export function staleView(err: unknown): StaleViewError {
  return new StaleViewError(err instanceof Error ? err.message : String(err), { cause: err });
}
