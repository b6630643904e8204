// Which Oxide run states mean "shut down" for the node-lifecycle controller (taint
// node.cloudprovider.kubernetes.io/shutdown). Doc strings quoted from the API's InstanceState.
// Transitional states count as not shut down: the controller asks again every monitor period
// (5 s), so a stopping instance is tainted moments later, once it is `stopped`, and a reboot or
// migration never flaps the taint. The Go CCM treats only `stopped` as shut down; we add
// `failed`, whose guest is not running either (auto-restart brings it back to `running`, and
// the taint goes away with the Node's Ready condition).
import type { InstanceState } from '@oxide/api';

export const SHUTDOWN_BY_RUN_STATE: Readonly<Record<InstanceState, boolean>> = {
  /** "The instance is being created." */
  creating: false,
  /** "The instance is currently starting up." */
  starting: false,
  /** "The instance is currently running." */
  running: false,
  /** "...requested to stop and a transition to "Stopped" is imminent." Transitional. */
  stopping: false,
  /** "The instance is currently stopped." */
  stopped: true,
  /** "...will remain in the "rebooting" state until the VM is starting once more." */
  rebooting: false,
  /** "...until the migration process is complete..." The guest keeps running. */
  migrating: false,
  /** "The instance is attempting to recover from a failure." On its way back. */
  repairing: false,
  /** "The instance has encountered a failure." Not running; may be auto-restarted. */
  failed: true,
  /**
   * "The instance has been deleted." Not running. Existence is still decided only by a 404 on
   * a view by id, so a `destroyed` instance is shut down, not gone.
   */
  destroyed: true,
};

export function isShutdown(runState: InstanceState): boolean {
  // Unknown future states are not shut down: never taint on a guess.
  return SHUTDOWN_BY_RUN_STATE[runState] ?? false;
}

/**
 * Which run states can carry load-balancer traffic: the guest is up (`running`) or keeps running
 * while it moves (`migrating`). Every other state means packets NATed to the instance are lost
 * now, so a floating IP on it moves at once, transitions included (a reboot takes long enough to
 * be an outage; the settle time keeps the instance from being chosen again until it has been
 * running for a while).
 */
export const SERVING_BY_RUN_STATE: Readonly<Record<InstanceState, boolean>> = {
  creating: false,
  starting: false,
  running: true,
  stopping: false,
  stopped: false,
  rebooting: false,
  migrating: true,
  repairing: false,
  failed: false,
  destroyed: false,
};

export function isServing(runState: InstanceState): boolean {
  // Unknown future states serve: never move traffic on a guess.
  return SERVING_BY_RUN_STATE[runState] ?? true;
}
