// The Oxide side of an integration test or benchmark, wired as a cluster runs it: the simulator
// over HTTP, the real OxideClient and OxideCloudProvider, and a ControllerContext on the caller's
// KubeClient (benches pass a counting, rate-limited one). Controllers are built by the caller
// from `ctx`, since their options are what each test is about.
import { startSimulator } from '../../sim/server.ts';
import type { Seed, Simulator } from '../../sim/server.ts';
import { OxideCloudProvider } from '../../src/cloud/oxide/provider.ts';
import type { Controller, ControllerContext } from '../../src/controllers/controller.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { OxideClient } from '../../src/oxide/client.ts';
import type { OxideClientOptions } from '../../src/oxide/client.ts';
import { testContext } from './context.ts';
import type { SharedInformersOptions } from '../../src/kube/informers.ts';

/** One retry with short backoff, so a test sees an injected failure in milliseconds. */
export const QUICK_RETRIES = {
  maxRetries: 1,
  retry: { baseDelayMs: 10, maxDelayMs: 50 },
} as const satisfies Omit<OxideClientOptions, 'host' | 'token' | 'project'>;

export interface OxideEnvOptions {
  kube: KubeClient;
  /** Default: an empty project named k8s. */
  seed?: Seed;
  /** Simulator latency per request; default none. */
  latencyMs?: number;
  /** Timeouts and retries of the OxideClient; default the product's. */
  clientOptions?: Omit<OxideClientOptions, 'host' | 'token' | 'project'>;
  /** Instance inventory cache lifetime; default the product's. */
  inventoryTtlMs?: number;
  /**
   * Every configured project (--oxide-projects), the seed's first; default the seed's alone.
   * The test adds the others to the simulator (sim.db.addProject) before Nodes use them.
   */
  projects?: string[];
  clusterName?: string;
  /** Scope of the shared informers (a namespace); default the product's, every namespace. */
  informers?: SharedInformersOptions;
}

/** Anything run until the env's signal aborts: a controller or a standalone Informer. */
export type Runnable = Pick<Controller, 'run'>;

export interface OxideEnv {
  sim: Simulator;
  client: OxideClient;
  cloud: OxideCloudProvider;
  ctx: ControllerContext;
  /** Aborted by stop(). */
  signal: AbortSignal;
  /** Starts the shared informers, then runs each in order until stop(). */
  start(...runnables: Runnable[]): void;
  /** Stops everything started, then closes the client and the simulator. */
  stop(): Promise<void>;
}

export async function startOxideEnv(options: OxideEnvOptions): Promise<OxideEnv> {
  const sim = await startSimulator({
    seed: options.seed ?? { project: 'k8s' },
    latencyMs: options.latencyMs,
  });
  const client = new OxideClient({
    host: sim.url,
    token: sim.token,
    project: sim.project,
    ...options.clientOptions,
  });
  const cloud = new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    ...(options.projects ? { projects: options.projects } : {}),
    inventory: options.inventoryTtlMs === undefined ? undefined : { ttlMs: options.inventoryTtlMs },
  });
  const ctx = testContext(
    options.kube,
    cloud,
    options.clusterName,
    options.kube,
    options.informers,
  );
  const abort = new AbortController();
  const running: Promise<void>[] = [];
  return {
    sim,
    client,
    cloud,
    ctx,
    signal: abort.signal,
    start(...runnables) {
      ctx.informers.start(abort.signal);
      // stopped() covers the informers requested so far, so it comes after every run() began.
      running.push(...runnables.map((r) => r.run(abort.signal)), ctx.informers.stopped());
    },
    async stop() {
      abort.abort();
      await Promise.all(running);
      await client.close();
      await sim.stop();
    },
  };
}
