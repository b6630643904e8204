// cloud-node-controller: initializes Nodes that kubelet registered with the uninitialized taint
// (providerID, addresses, labels, then the taint comes off) and periodically re-syncs the
// addresses of initialized Nodes. Semantics follow k8s.io/cloud-provider's node controller, with
// one deliberate change: addresses are written before the taint is removed, so a schedulable
// Node always has addresses.
import type { V1Node, V1NodeAddress } from '@kubernetes/client-node';
import type { Instances } from '../../cloud/provider.ts';
import { InstanceNotFoundError } from '../../cloud/provider.ts';
import { isNotFound } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { NODE_KIND } from '../../kube/events.ts';
import { FreshObjects } from '../../kube/fresh.ts';
import type { Informer } from '../../kube/informer.ts';
import { sleep } from '../../util/async.ts';
import { patchNodeAddresses, updateNode } from '../../kube/nodes.ts';
import {
  hasTaint,
  LABEL_INSTANCE_TYPE,
  LABEL_INSTANCE_TYPE_BETA,
  TAINT_UNINITIALIZED,
} from '../../kube/well-known.ts';
import { WorkQueue } from '../../kube/workqueue.ts';
import type { Logger } from '../../log.ts';
import { nodeMetrics } from './metrics.ts';
import { NODE_CONTROLLER } from '../../names.ts';
import type { Controller, ControllerContext } from '../controller.ts';
import { eventMessage, runWorkers } from '../runner.ts';
import { countNodes, reportNodes } from '../state-metrics.ts';
import { desiredNodeAddresses, nodeAddressesChanged } from './addresses.ts';
import { desiredLabels } from './labels.ts';

export interface NodeControllerOptions {
  /** --concurrent-node-syncs */
  workers: number;
  /** --node-status-update-frequency, in ms */
  statusUpdateFrequencyMs: number;
}

export class NodeController implements Controller {
  readonly name = NODE_CONTROLLER;
  private readonly ctx: ControllerContext;
  private readonly options: NodeControllerOptions;
  private readonly instances: Instances;
  private readonly nodes: Informer<V1Node>;
  private readonly queue = new WorkQueue({
    name: NODE_CONTROLLER.workqueue ?? NODE_CONTROLLER.name,
  });
  private readonly fresh: FreshObjects<V1Node>;
  private readonly resyncRequested = new Set<string>();
  private readonly recorder: EventRecorder;
  private readonly log: Logger;

  constructor(ctx: ControllerContext, options: NodeControllerOptions) {
    const instances = ctx.cloud.instances();
    if (!instances)
      throw new Error(`${NODE_CONTROLLER.name} needs a cloud provider with instances`);
    this.ctx = ctx;
    this.options = options;
    this.instances = instances;
    this.nodes = ctx.informers.nodes();
    this.fresh = new FreshObjects(this.nodes.transform);
    this.recorder = ctx.recorder(NODE_CONTROLLER.eventSource, NODE_KIND);
    this.log = ctx.log.child({ controller: NODE_CONTROLLER.name });
    this.nodes.addHandlers({
      add: (node) => this.enqueueIfUninitialized(node),
      update: (_old, node) => this.enqueueIfUninitialized(node),
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => this.queue.shutDown(), { once: true });
    await this.nodes.waitForSync(signal);
    reportNodes(() => countNodes(this.nodes.list()), signal);
    await Promise.all([
      runWorkers(
        this.queue,
        { name: NODE_CONTROLLER.name, reconcile: (k, s) => this.reconcile(k, s) },
        this.options.workers,
        this.log,
        signal,
      ),
      this.resyncLoop(signal),
    ]);
  }

  /** Initializes the Node when it is tainted, otherwise re-syncs its addresses. */
  async reconcile(name: string, signal?: AbortSignal): Promise<void> {
    const cached = this.nodes.get(name);
    if (!cached) {
      this.fresh.forget(name);
      this.resyncRequested.delete(name);
      return;
    }
    const node = this.fresh.read(name, cached);
    if (node.metadata?.deletionTimestamp) return;
    if (hasTaint(node, TAINT_UNINITIALIZED)) await this.initialize(node, signal);
    // Only the periodic resync refreshes initialized Nodes: an update event of a Node we just
    // initialized (our own writes echoing back) must not cost another round of cloud calls.
    else if (this.resyncRequested.delete(name) && node.spec?.providerID) {
      await this.syncAddresses(node, signal);
    }
  }

  private enqueueIfUninitialized(node: V1Node): void {
    if (hasTaint(node, TAINT_UNINITIALIZED)) this.queue.add(node.metadata?.name ?? '');
  }

  private async resyncLoop(signal: AbortSignal): Promise<void> {
    for (;;) {
      await sleep(this.options.statusUpdateFrequencyMs, signal);
      if (signal.aborted) return;
      for (const node of this.nodes.list()) {
        const name = node.metadata?.name ?? '';
        if (!hasTaint(node, TAINT_UNINITIALIZED) && node.spec?.providerID) {
          this.resyncRequested.add(name);
          this.queue.add(name);
        }
      }
    }
  }

  private async initialize(node: V1Node, signal: AbortSignal | undefined): Promise<void> {
    const name = node.metadata?.name ?? '';
    let meta;
    try {
      meta = await this.instances.instanceMetadata(node, signal);
    } catch (err) {
      if (signal?.aborted) throw err; // shutting down: nothing to report about the Node
      const reason =
        err instanceof InstanceNotFoundError ? 'InstanceNotFound' : 'InitializationFailed';
      this.recorder.event(
        node,
        'Warning',
        reason,
        `Failed to initialize node: ${eventMessage(err)}`,
      );
      throw err;
    }
    const addresses = desiredNodeAddresses(meta.nodeAddresses, node);
    if ('error' in addresses) {
      this.recorder.event(node, 'Warning', 'ProvidedNodeIPMismatch', addresses.error);
      throw new Error(addresses.error);
    }
    try {
      // Chain each write's answer into the next: updating from the pre-patch copy would be a
      // guaranteed 409 and an extra GET + PUT per Node.
      const patched = (await this.writeAddresses(node, addresses.addresses, signal)) ?? node;
      if (patched !== node) this.fresh.wrote(name, node, patched);
      const labels = desiredLabels(meta, node.metadata?.labels);
      const updated = await updateNode(
        this.ctx.kube,
        patched,
        (n) => {
          n.metadata ??= {};
          n.spec ??= {};
          if (!n.spec.providerID) n.spec.providerID = meta.providerID;
          n.metadata.labels = { ...n.metadata.labels, ...labels };
          n.spec.taints = (n.spec.taints ?? []).filter((t) => t.key !== TAINT_UNINITIALIZED);
          return true;
        },
        signal,
      );
      if (updated) this.fresh.wrote(name, patched, updated);
    } catch (err) {
      if (isNotFound(err)) return; // deleted while we worked: nothing left to initialize
      throw err;
    }
    const created = node.metadata?.creationTimestamp;
    if (created) {
      const seconds = (Date.now() - new Date(created).getTime()) / 1000;
      nodeMetrics.taintRemovalDelay.observe(seconds);
      nodeMetrics.initialSyncDelay.observe(seconds);
    }
    this.recorder.event(node, 'Normal', 'Synced', 'Node synced successfully');
    this.log.info(
      { node: name, providerID: meta.providerID, result: 'initialized' },
      'node initialized',
    );
  }

  /** Writes the addresses when they differ from the Node's (in any order); the written Node, if it wrote. */
  private async writeAddresses(
    node: V1Node,
    addresses: V1NodeAddress[],
    signal: AbortSignal | undefined,
  ): Promise<V1Node | undefined> {
    if (!nodeAddressesChanged(node.status?.addresses, addresses)) return undefined;
    return patchNodeAddresses(this.ctx.kube, node.metadata?.name ?? '', addresses, signal);
  }

  private async syncAddresses(node: V1Node, signal: AbortSignal | undefined): Promise<void> {
    const name = node.metadata?.name ?? '';
    let meta;
    try {
      meta = await this.instances.instanceMetadata(node, signal);
    } catch (err) {
      // The lifecycle controller owns "instance gone"; here a missing instance just means no update.
      if (err instanceof InstanceNotFoundError) return;
      throw err;
    }
    const addresses = desiredNodeAddresses(meta.nodeAddresses, node);
    if ('error' in addresses) {
      this.log.warn({ node: name, err: addresses.error }, 'addresses not updated');
      return;
    }
    const patched = await this.writeAddresses(node, addresses.addresses, signal);
    if (patched) {
      this.fresh.wrote(name, node, patched);
      this.log.info({ node: name, result: 'addresses-updated' }, 'node addresses updated');
    }
    // Keep the GA/beta instance-type pair consistent, as upstream's periodic sync does.
    if (meta.instanceType) {
      await updateNode(
        this.ctx.kube,
        patched ?? node,
        (n) => {
          const labels = n.metadata?.labels ?? {};
          if (
            labels[LABEL_INSTANCE_TYPE] === meta.instanceType &&
            labels[LABEL_INSTANCE_TYPE_BETA] === meta.instanceType
          ) {
            return false;
          }
          n.metadata ??= {};
          n.metadata.labels = {
            ...labels,
            [LABEL_INSTANCE_TYPE]: meta.instanceType,
            [LABEL_INSTANCE_TYPE_BETA]: meta.instanceType,
          };
          return true;
        },
        signal,
      );
    }
  }
}
