// Builds a ControllerContext for controller tests: real KubeClient + informers + event recorder
// against the test apiserver, with a cloud of the test's choosing.
import type { CloudProvider } from '../../src/cloud/provider.ts';
import type { ControllerContext } from '../../src/controllers/controller.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { KubeEventRecorder } from '../../src/kube/events.ts';
import { SharedInformers } from '../../src/kube/informers.ts';
import type { SharedInformersOptions } from '../../src/kube/informers.ts';
import { createLogger, silentLogger } from '../../src/log.ts';

/**
 * `events` is the client events are written with (default `kube`): a test counting the
 * controller's own requests writes events with another one. `informers` scopes the shared
 * informers (a namespace, so a Service controller sees only its test's Services while other
 * test files share the apiserver).
 */
export function testContext(
  kube: KubeClient,
  cloud: CloudProvider,
  clusterName = 'kubernetes',
  events: KubeClient = kube,
  informers: SharedInformersOptions = {},
): ControllerContext {
  const log = process.env['TEST_LOG'] ? createLogger({ verbosity: 4 }) : silentLogger;
  return {
    kube,
    cloud,
    informers: new SharedInformers(kube, log, informers),
    recorder: (component, kind) =>
      new KubeEventRecorder(events, component, 'test-host', log, { kind }),
    log,
    clusterName,
  };
}

/** Polls fn until it returns a truthy value or the timeout passes (then throws with the last value). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${String(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
