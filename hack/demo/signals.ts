// Orderly shutdown for the long-running hack scripts (`make cluster`, `make demo`). The control
// plane harness exits at once on SIGINT/SIGTERM (right for tests); these scripts instead stop the
// CCM and check its exit code, close the simulator and stop etcd/kube-apiserver gracefully. A
// second signal (an impatient Ctrl-C) skips the rest: the harness's exit hook still kills both
// binaries and removes their directory.

export type ShutdownSignal = 'SIGINT' | 'SIGTERM';

/**
 * Replaces every SIGINT/SIGTERM listener of this process (call it after ControlPlane.start(),
 * which installs its own). The first signal resolves the returned promise; a second one calls
 * `onSecond` and exits 130.
 */
export function takeOverSignals(onSecond: () => void = () => undefined): Promise<ShutdownSignal> {
  return new Promise((resolve) => {
    let received = 0;
    const handler = (signal: ShutdownSignal): void => {
      received += 1;
      if (received === 1) return resolve(signal);
      console.error(`\n${signal} again: stopping everything now`);
      onSecond();
      process.exit(130);
    };
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      process.on(signal, handler);
    }
  });
}
