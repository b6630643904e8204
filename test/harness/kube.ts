// What integration tests use to reach the shared control plane. Run under `make test` the
// global setup has started it; a file run alone (node --test file) starts its own.
import { KubeClient } from '../../src/kube/client.ts';
import { ControlPlane } from './controlplane.ts';

let started: Promise<string> | undefined;

async function kubeconfigPath(): Promise<string> {
  const fromEnv = process.env['OXIDE_CCM_TEST_KUBECONFIG'];
  if (fromEnv) return fromEnv;
  started ??= (async () => {
    // Stopped by ControlPlane's process exit hook: node:test's after() would bind to whichever
    // hook or test happens to call this first and stop the apiserver too early.
    const cp = new ControlPlane();
    const info = await cp.start();
    process.env['OXIDE_CCM_TEST_KUBECONFIG'] = info.kubeconfig;
    return info.kubeconfig;
  })();
  return started;
}

/** A client for the test apiserver; generous QPS so tests are not throttled. */
export async function testKube(
  qps = 500,
  burst = 1000,
): Promise<{ client: KubeClient; kubeconfig: string }> {
  const kubeconfig = await kubeconfigPath();
  return { client: KubeClient.load(kubeconfig, { qps, burst }), kubeconfig };
}

let counter = 0;
/** A unique DNS-1123 name for test isolation within the shared apiserver. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}`.toLowerCase();
}
