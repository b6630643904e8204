// cloud-node-lifecycle-controller: every --node-monitor-period, looks at Nodes that are not
// Ready and asks the cloud about them: a Node whose instance is definitively gone is deleted; one
// whose instance is shut down gets the shutdown taint, removed again once the Node is Ready or
// the instance runs. Errors only mean "ask again next period": the provider throws on any doubt
// and confirms "gone" with a direct lookup, so no transient Oxide error ever deletes a Node.
import type { V1Node } from '@kubernetes/client-node';
import type { Instances } from '../../cloud/provider.ts';
import { isNotFound } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { NODE_KIND } from '../../kube/events.ts';
import type { Informer } from '../../kube/informer.ts';
import { mapConcurrent, sleep } from '../../util/async.ts';
import { updateNode } from '../../kube/nodes.ts';
import {
  hasTaint,
  readyStatus,
  shutdownTaint,
  TAINT_SHUTDOWN,
  TAINT_UNINITIALIZED,
} from '../../kube/well-known.ts';
import type { Logger } from '../../log.ts';
import { reconcileMetrics } from '../metrics.ts';
import { NODE_LIFECYCLE_CONTROLLER } from '../../names.ts';
import type { Controller, ControllerContext } from '../controller.ts';
import { errorMessage, eventMessage } from '../runner.ts';

export interface NodeLifecycleControllerOptions {
  /** --node-monitor-period, in ms */
  monitorPeriodMs: number;
  /** Nodes checked at once; bounds concurrent cloud calls when many Nodes are NotReady. */
  concurrency?: number;
}

export class NodeLifecycleController implements Controller {
  readonly name = NODE_LIFECYCLE_CONTROLLER;
  private readonly ctx: ControllerContext;
  private readonly options: NodeLifecycleControllerOptions;
  private readonly instances: Instances;
  private readonly nodes: Informer<V1Node>;
  private readonly recorder: EventRecorder;
  private readonly log: Logger;

  constructor(ctx: ControllerContext, options: NodeLifecycleControllerOptions) {
    const instances = ctx.cloud.instances();
    if (!instances)
      throw new Error(`${NODE_LIFECYCLE_CONTROLLER.name} needs a cloud provider with instances`);
    this.ctx = ctx;
    this.options = options;
    this.instances = instances;
    this.nodes = ctx.informers.nodes();
    this.recorder = ctx.recorder(NODE_LIFECYCLE_CONTROLLER.eventSource, NODE_KIND);
    this.log = ctx.log.child({ controller: NODE_LIFECYCLE_CONTROLLER.name });
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.nodes.waitForSync(signal);
    while (!signal.aborted) {
      await this.monitorNodes(signal);
      await sleep(this.options.monitorPeriodMs, signal);
    }
  }

  /**
   * One pass over every Node in the cache; `signal` aborts the pass's requests in flight. Only the
   * Nodes that need the cloud (not Ready, or carrying the shutdown taint) become checks: the Ready
   * rest, nearly all of a large cluster, cost a synchronous look each instead of a promise, a log
   * context and a metric sample.
   */
  async monitorNodes(signal?: AbortSignal): Promise<void> {
    await mapConcurrent(
      this.nodes.list().filter(needsCheck),
      this.options.concurrency ?? 10,
      async (node) => {
        try {
          await this.reconcile(node, signal);
          reconcileMetrics.total.inc({ controller: this.name.name, result: 'success' });
        } catch (err) {
          reconcileMetrics.total.inc({ controller: this.name.name, result: 'error' });
          this.log.warn(
            { node: node.metadata?.name ?? '', err: errorMessage(err) },
            'node check failed; retrying next period',
          );
        }
      },
    );
  }

  private async reconcile(node: V1Node, signal: AbortSignal | undefined): Promise<void> {
    const name = node.metadata?.name ?? '';
    if (readyStatus(node) === 'True') {
      if (hasTaint(node, TAINT_SHUTDOWN)) await this.setShutdownTaint(node, false, signal);
      return;
    }
    if (!(await this.instances.instanceExists(node, signal))) {
      this.recorder.event(
        node,
        'Normal',
        'DeletingNode',
        `Deleting node ${name} because it does not exist in the cloud provider`,
      );
      try {
        await this.ctx.kube.delete(`/api/v1/nodes/${encodeURIComponent(name)}`, {
          // Only the Node we looked at: a re-registered Node of the same name has another uid.
          body: {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            preconditions: { uid: node.metadata?.uid },
          },
          signal,
        });
        this.log.info({ node: name, result: 'deleted' }, 'deleted node whose instance is gone');
      } catch (err) {
        if (isNotFound(err)) return;
        this.recorder.event(
          node,
          'Warning',
          'DeletingNodeFailed',
          `Error deleting node ${name}: ${eventMessage(err)}`,
        );
        throw err;
      }
      return;
    }
    const shutdown = await this.instances.instanceShutdown(node, signal);
    if (shutdown !== hasTaint(node, TAINT_SHUTDOWN)) {
      await this.setShutdownTaint(node, shutdown, signal);
    }
  }

  private async setShutdownTaint(
    node: V1Node,
    present: boolean,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    try {
      await updateNode(
        this.ctx.kube,
        node,
        (n) => {
          const taints = n.spec?.taints ?? [];
          const has = taints.some((t) => t.key === TAINT_SHUTDOWN);
          if (has === present) return false;
          n.spec ??= {};
          n.spec.taints = present
            ? [...taints, { key: shutdownTaint.key, effect: shutdownTaint.effect }]
            : taints.filter((t) => t.key !== TAINT_SHUTDOWN);
          return true;
        },
        signal,
      );
      this.log.info(
        {
          node: node.metadata?.name,
          result: present ? 'shutdown-taint-added' : 'shutdown-taint-removed',
        },
        'shutdown taint updated',
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Whether a Node's check may call the cloud or write: every other Node is left alone. */
function needsCheck(node: V1Node): boolean {
  if (node.metadata?.deletionTimestamp) return false;
  // Deliberately unlike upstream: a Node that was never initialized is the node controller's
  // (it keeps the taint and warns). Deleting it would only make kubelet register it again, in
  // a loop, while an operator fixes an instance name.
  if (hasTaint(node, TAINT_UNINITIALIZED)) return false;
  return readyStatus(node) !== 'True' || hasTaint(node, TAINT_SHUTDOWN);
}
