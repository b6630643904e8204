// Which of a Service's eligible Nodes the provider may target, given the failover signals. Pure.
// - A Node that is out (stale Lease, instance not running, settling after either) or whose
//   health check fails is never offered.
// - When a current target's health check fails (and nothing else has taken it out), it is moved
//   only to a Node whose health check passes now, as a cloud load balancer does; when no such Node
//   exists the target is kept: it may be the prober that cannot reach anything.
// - Never an empty list while there are eligible Nodes: with every Node out the current target
//   stays (the provider keeps a target that is still in the list).
import type { V1Node } from '@kubernetes/client-node';
import type { NodeOut } from './node-signals.ts';
import type { ProbeVerdict } from './probe-state.ts';

export interface CandidateInput {
  /** The Service's eligible Nodes (externalTrafficPolicy Local applied), in the controller's order. */
  eligible: V1Node[];
  /** Nodes its load balancer targets now. */
  targets: readonly string[];
  out: ReadonlyMap<string, NodeOut>;
  /** The Service's health-check endpoint on that Node; undefined when not checked. */
  verdict: (node: string) => ProbeVerdict | undefined;
  /** Answered and passing now. */
  passing: (node: string) => boolean;
}

const nameOf = (n: V1Node): string => n.metadata?.name ?? '';

export function failoverCandidates(input: CandidateInput): V1Node[] {
  const { eligible, targets, out, verdict, passing } = input;
  const usable = eligible.filter((n) => !out.has(nameOf(n)) && verdict(nameOf(n)) !== 'failing');
  if (usable.length === 0) return eligible;
  const targetFails = targets.some((t) => !out.has(t) && verdict(t) === 'failing');
  // The same list when nothing is taken away, so the controller's digest of it is reused.
  if (!targetFails) return usable.length === eligible.length ? eligible : usable;
  const healthy = usable.filter((n) => passing(nameOf(n)));
  if (healthy.length > 0) return healthy;
  // No Node is known to pass: keep the failing target rather than move blind.
  return eligible.filter((n) => !out.has(nameOf(n)));
}
