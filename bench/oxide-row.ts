// One benchmark row of the real controllers against the simulator and the benchmark's
// kube-apiserver, as routes, service-lb and node-burst run it: the controllers' client counts its
// requests at the row's QPS, a second unthrottled client does what the benchmark itself does
// (kubelets, observers, clean-up), and each phase is measured from fresh counters.
import type { InstanceSeed, Simulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { deleteNode } from '../test/harness/nodes.ts';
import { type OxideEnv, startOxideEnv } from '../test/harness/oxide-env.ts';
import { CountingKubeClient, inParallel, untilWritesDrain } from './lib.ts';

/** Simulated Oxide latency per request in every controller benchmark. */
export const OXIDE_LATENCY_MS = 50;

/** The controllers' client-side rate limit (--kube-api-qps / --kube-api-burst). */
export interface KubeRate {
  qps: number;
  burst: number;
}

export interface OxideRow {
  /** The controllers' client: the row's QPS, every request counted. */
  kube: CountingKubeClient;
  /** The benchmark's own client, unthrottled and uncounted. */
  admin: KubeClient;
  env: OxideEnv;
  /** Stops the env, then deletes the Node of every seeded instance (the apiserver is shared). */
  stop: () => Promise<void>;
}

/** Starts a row: the simulator seeded with `instances` in project k8s, and both clients. */
export async function startOxideRow(
  kubeconfig: string,
  rate: KubeRate,
  instances: InstanceSeed[],
  clusterName?: string,
  /** Only this namespace's Services and EndpointSlices reach the controllers. */
  namespace?: string,
): Promise<OxideRow> {
  const kube = CountingKubeClient.loadCounting(kubeconfig, { qps: rate.qps, burst: rate.burst });
  const admin = KubeClient.load(kubeconfig, { qps: 5000, burst: 5000 });
  const env = await startOxideEnv({
    kube,
    seed: { project: 'k8s', instances },
    latencyMs: OXIDE_LATENCY_MS,
    clusterName,
    ...(namespace === undefined ? {} : { informers: { namespace } }),
  });
  return {
    kube,
    admin,
    env,
    stop: async () => {
      await env.stop();
      await inParallel(instances, 100, (i) => deleteNode(admin, i.name));
    },
  };
}

export interface Phase {
  ms: number;
  /** Oxide calls by operationId. */
  oxide: Record<string, number>;
  /** Controller requests to kube-apiserver (watches excluded). */
  kube: number;
}

/**
 * Runs fn with fresh Oxide and kube counters; its time is fn's, and kube requests are counted
 * until event writes have drained (they trail the work behind the same limiter).
 */
export async function measurePhase(
  sim: Simulator,
  kube: CountingKubeClient,
  fn: () => Promise<void>,
): Promise<Phase> {
  sim.requests.reset();
  kube.reset();
  const started = performance.now();
  await fn();
  const ms = performance.now() - started;
  const oxide = sim.requests.byOperation();
  await untilWritesDrain(kube);
  return { ms, oxide, kube: kube.total() };
}
