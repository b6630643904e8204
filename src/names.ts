// Canonical controller names, reused for --controllers, logs, event sources and metric labels so
// that one controller is called one thing everywhere (upstream drifts between these).

export interface ControllerName {
  /** Name accepted by --controllers and used in logs and metric labels. */
  readonly name: string;
  /** Short alias that upstream's --controllers also accepts. */
  readonly alias: string;
  /** Event source component, as upstream records it. */
  readonly eventSource: string;
  /**
   * Upstream's name for the controller's work queue: the `name` label of workqueue_* metrics,
   * so dashboards written for upstream CCMs find it.
   */
  readonly workqueue?: string;
}

export const NODE_CONTROLLER: ControllerName = {
  name: 'cloud-node-controller',
  alias: 'cloud-node',
  eventSource: 'cloud-node-controller',
  workqueue: 'Nodes',
};

export const NODE_LIFECYCLE_CONTROLLER: ControllerName = {
  name: 'cloud-node-lifecycle-controller',
  alias: 'cloud-node-lifecycle',
  eventSource: 'cloud-node-lifecycle-controller',
};

export const SERVICE_CONTROLLER: ControllerName = {
  name: 'service-lb-controller',
  alias: 'service',
  eventSource: 'service-controller',
  workqueue: 'service',
};

export const ROUTE_CONTROLLER: ControllerName = {
  name: 'node-route-controller',
  alias: 'route',
  eventSource: 'route_controller',
};

export const ALL_CONTROLLERS: readonly ControllerName[] = [
  NODE_CONTROLLER,
  NODE_LIFECYCLE_CONTROLLER,
  SERVICE_CONTROLLER,
  ROUTE_CONTROLLER,
];

export const PROVIDER_NAME = 'oxide';
