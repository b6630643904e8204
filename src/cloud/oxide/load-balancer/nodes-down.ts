// Which of the Nodes handed in have an instance that cannot carry traffic now (run-state.ts:
// isServing), from the projects' shared instance inventories: one instance_list per project
// that holds an asked-about Node (its project label, else the default project) per inventory
// TTL answers every caller, whatever the number of Nodes. An instance the list does not show is
// not reported: absence is never proof (the node-lifecycle controller confirms a vanished
// instance by id).
import type { V1Node } from '@kubernetes/client-node';
import type { Logger } from '../../../log.ts';
import type { NodeOutage } from '../../provider.ts';
import { ADDITIONAL_LABELS } from '../metadata.ts';
import type { OxideProject, OxideProjects } from '../projects.ts';
import { isServing } from '../run-state.ts';
import { candidatesOf } from './placement.ts';
import type { Candidate } from './placement.ts';

export async function nodesDown(
  projects: OxideProjects,
  nodes: readonly V1Node[],
  log: Logger,
  signal?: AbortSignal,
): Promise<NodeOutage[]> {
  const byProject = new Map<OxideProject, Candidate[]>();
  for (const c of candidatesOf(nodes, log)) {
    const label = c.node.metadata?.labels?.[ADDITIONAL_LABELS.project];
    const project = (label !== undefined ? projects.get(label) : undefined) ?? projects.default;
    const list = byProject.get(project);
    if (list) list.push(c);
    else byProject.set(project, [c]);
  }
  const down: NodeOutage[] = [];
  for (const [project, candidates] of byProject) {
    const snapshot = await project.inventory.snapshot(signal);
    for (const c of candidates) {
      const instance = snapshot.byId(c.instanceId);
      if (instance && !isServing(instance.runState)) {
        down.push({ node: c.nodeName, reason: `instance ${instance.runState}` });
      }
    }
  }
  return down;
}
