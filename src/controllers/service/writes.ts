// The service controller's writes to the apiserver: the cleanup finalizer and the load-balancer
// status. Finalizer patches carry the resourceVersion they were computed from (a merge patch
// replaces the whole list, so a concurrent edit by someone else must fail with 409, not be lost);
// on conflict the Service is re-read and the change recomputed.
import type { V1Service } from '@kubernetes/client-node';
import type { LoadBalancerIngress } from '../../cloud/provider.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isConflict, isNotFound } from '../../kube/client.ts';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from './predicates.ts';

const servicePath = (svc: V1Service): string =>
  `/api/v1/namespaces/${encodeURIComponent(svc.metadata?.namespace ?? '')}/services/${encodeURIComponent(svc.metadata?.name ?? '')}`;

async function patchFinalizers(
  kube: KubeClient,
  svc: V1Service,
  change: (finalizers: string[]) => string[] | undefined,
  signal: AbortSignal | undefined,
  attempts = 3,
): Promise<V1Service> {
  let current = svc;
  for (let i = 1; ; i++) {
    const next = change(current.metadata?.finalizers ?? []);
    if (!next) return current;
    try {
      return await kube.patch<V1Service>(
        servicePath(current),
        'merge',
        { metadata: { resourceVersion: current.metadata?.resourceVersion, finalizers: next } },
        { signal },
      );
    } catch (err) {
      if (!isConflict(err) || i >= attempts) throw err;
      current = await kube.get<V1Service>(servicePath(current), { signal });
    }
  }
}

/** Adds the cleanup finalizer; returns the Service as written (or as it was, when present). */
export const addFinalizer = (
  kube: KubeClient,
  svc: V1Service,
  signal?: AbortSignal,
): Promise<V1Service> =>
  patchFinalizers(
    kube,
    svc,
    (f) =>
      f.includes(LOAD_BALANCER_CLEANUP_FINALIZER)
        ? undefined
        : [...f, LOAD_BALANCER_CLEANUP_FINALIZER],
    signal,
  );

/**
 * Removes the cleanup finalizer. A Service being deleted is gone after this; one that is
 * already gone (404) needs nothing more.
 */
export async function removeFinalizer(
  kube: KubeClient,
  svc: V1Service,
  signal?: AbortSignal,
): Promise<V1Service> {
  try {
    return await patchFinalizers(
      kube,
      svc,
      (f) =>
        f.includes(LOAD_BALANCER_CLEANUP_FINALIZER)
          ? f.filter((x) => x !== LOAD_BALANCER_CLEANUP_FINALIZER)
          : undefined,
      signal,
    );
  } catch (err) {
    if (isNotFound(err)) return svc;
    throw err;
  }
}

/**
 * Replaces `status.loadBalancer.ingress` (a merge patch replaces lists whole, which is what we
 * want: order matters). An empty list removes the field. No resourceVersion precondition: the
 * load-balancer status has one writer, this controller, so the last write is the right one.
 */
export function patchIngress(
  kube: KubeClient,
  svc: V1Service,
  ingress: readonly LoadBalancerIngress[],
  signal?: AbortSignal,
): Promise<V1Service> {
  const loadBalancer = { ingress: ingress.length > 0 ? ingress.map((i) => ({ ...i })) : null };
  return kube.patch<V1Service>(
    `${servicePath(svc)}/status`,
    'merge',
    { status: { loadBalancer } },
    { signal },
  );
}
