// Which of the Nodes handed in have an instance that cannot carry traffic now (run-state.ts:
// isServing), from the provider's shared instance inventory: one project-wide instance_list per
// inventory TTL answers every caller, whatever the number of Nodes asked about. An instance the
// list does not show is not reported: absence is never proof (the node-lifecycle controller
// confirms a vanished instance by id).
import type { V1Node } from '@kubernetes/client-node';
import type { Logger } from '../../../log.ts';
import type { InstanceInventory } from '../../../oxide/inventory.ts';
import type { NodeOutage } from '../../provider.ts';
import { isServing } from '../run-state.ts';
import { candidatesOf } from './placement.ts';

export async function nodesDown(
  inventory: InstanceInventory,
  nodes: readonly V1Node[],
  log: Logger,
  signal?: AbortSignal,
): Promise<NodeOutage[]> {
  const candidates = candidatesOf(nodes, log);
  if (candidates.length === 0) return [];
  const snapshot = await inventory.snapshot(signal);
  const down: NodeOutage[] = [];
  for (const c of candidates) {
    const instance = snapshot.byId(c.instanceId);
    if (instance && !isServing(instance.runState)) {
      down.push({ node: c.nodeName, reason: `instance ${instance.runState}` });
    }
  }
  return down;
}
