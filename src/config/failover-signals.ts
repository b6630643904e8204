// The signals --lb-failover names (src/controllers/service/failover/ acts on them): health checks
// of the target Nodes, the instance's run state, the kubelet's Lease.
export type FailoverSignal = 'health-check' | 'instance-state' | 'lease';

export const FAILOVER_SIGNALS: readonly FailoverSignal[] = [
  'health-check',
  'instance-state',
  'lease',
];
