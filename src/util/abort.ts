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

/**
 * `work`'s outcome, or `signal`'s reason as soon as it aborts: the caller stops waiting while the
 * work itself goes on, for a load other callers share (single flight) must not end because one
 * of them gave up.
 */
export function abandonOn<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/**
 * A signal that aborts after `ms` with a TimeoutError (as AbortSignal.timeout's), and `done()`
 * to call when the work settled. Unlike AbortSignal.timeout, the timer ends with the work: that
 * one stays scheduled for its whole timeout and then builds a DOMException, stack included, for
 * a signal nobody listens to any more, so every request of a burst cost a timer for 30 s and an
 * exception after it.
 */
export function timeoutSignal(ms: number): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, ms);
  timer.unref();
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}
