// Node writes shared by the node controllers: an update that retries on conflict and a status
// patch that replaces the whole address list.
import type { V1Node, V1NodeAddress } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { isConflict } from './client.ts';

const nodePath = (name: string): string => `/api/v1/nodes/${encodeURIComponent(name)}`;

/**
 * Applies mutate to a copy of node and PUTs it with its resourceVersion; on 409 re-reads the
 * Node and tries again (client-go's RetryOnConflict). mutate returns false when nothing needs to
 * change, which costs no write. Starting from the informer's copy makes the common case one
 * request. Returns the written Node, or undefined when nothing was written.
 */
export async function updateNode(
  kube: KubeClient,
  node: V1Node,
  mutate: (node: V1Node) => boolean,
  signal?: AbortSignal,
  attempts = 5,
): Promise<V1Node | undefined> {
  let current = node;
  for (let i = 1; ; i++) {
    const copy = structuredClone(current);
    if (!mutate(copy)) return undefined;
    try {
      return await kube.put<V1Node>(nodePath(copy.metadata?.name ?? ''), copy, { signal });
    } catch (err) {
      if (!isConflict(err) || i >= attempts) throw err;
      current = await kube.get<V1Node>(nodePath(copy.metadata?.name ?? ''), { signal });
    }
  }
}

/**
 * Sets status.addresses to exactly `addresses`. A strategic-merge patch merges the list by
 * `type` and would keep stale entries, so this is a JSON patch that replaces the list.
 */
export function patchNodeAddresses(
  kube: KubeClient,
  name: string,
  addresses: V1NodeAddress[],
  signal?: AbortSignal,
): Promise<V1Node> {
  return kube.patch<V1Node>(
    `${nodePath(name)}/status`,
    'json',
    [{ op: 'add', path: '/status/addresses', value: addresses }],
    { signal },
  );
}
