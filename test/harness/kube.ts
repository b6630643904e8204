// What integration tests use to reach a control plane. Under `make test` the global setup has
// started one shared by every file (isolate by names and namespaces); a file run alone starts
// its own. Files that run cluster-wide controllers (the node controllers act on every Node)
// ask for a dedicated control plane so they cannot touch other files' objects.
import { KubeClient } from '../../src/kube/client.ts';
import { ControlPlane } from './controlplane.ts';

let own: Promise<string> | undefined;

/** Starts a control plane owned by this process; it dies with the process (exit hook). */
function startOwn(): Promise<string> {
  own ??= (async () => {
    const cp = new ControlPlane({ detachFromProcess: true });
    const info = await cp.start();
    return info.kubeconfig;
  })();
  return own;
}

export interface TestKubeOptions {
  /** A control plane for this test file alone. */
  dedicated?: boolean;
  qps?: number;
  burst?: number;
}

/** A client for the test apiserver; generous QPS so tests are not throttled. */
export async function testKube(
  options: TestKubeOptions = {},
): Promise<{ client: KubeClient; kubeconfig: string }> {
  const shared = process.env['OXIDE_CCM_TEST_KUBECONFIG'];
  const kubeconfig = shared && !options.dedicated ? shared : await startOwn();
  return {
    client: KubeClient.load(kubeconfig, { qps: options.qps ?? 500, burst: options.burst ?? 1000 }),
    kubeconfig,
  };
}

let counter = 0;
/** A unique DNS-1123 name for test isolation within the shared apiserver. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}`.toLowerCase();
}
