// Abort-signal plumbing shared by the Kubernetes and Oxide clients.

/**
 * Runs `use` with a signal that aborts when any of `signals` does, listening on them only while
 * `use` runs. Unlike AbortSignal.any, nothing stays registered on a process-lifetime signal (the
 * fence's) after the request, so thousands of requests leave nothing behind on it.
 */
export async function linked<T>(
  signals: readonly AbortSignal[],
  use: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onAbort = (event: Event): void => {
    controller.abort((event.target as AbortSignal).reason);
  };
  for (const s of signals) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', onAbort, { once: true });
  }
  try {
    return await use(controller.signal);
  } finally {
    for (const s of signals) s.removeEventListener('abort', onAbort);
  }
}
