// A fake CloudProvider for controller tests: a call log, per-method error knobs and in-memory
// answers, so controller behaviour is tested exactly and fast. The real provider is tested
// against the Oxide simulator separately.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { InstanceNotFoundError } from '../../src/cloud/provider.ts';
import type {
  CloudProvider,
  InstanceMetadata,
  Instances,
  LoadBalancer,
  LoadBalancerStatus,
} from '../../src/cloud/provider.ts';

export interface FakeCall {
  method: string;
  target: string;
  /** The caller's signal (the provider contract's last argument), if it passed one. */
  signal?: AbortSignal;
}

export interface FakeInstance {
  metadata: InstanceMetadata;
  shutdown?: boolean;
}

type Method =
  | 'instanceExists'
  | 'instanceShutdown'
  | 'instanceMetadata'
  | 'ensureLoadBalancer'
  | 'updateLoadBalancer'
  | 'ensureLoadBalancerDeleted';

/** No routes: the route controller is tested against the Oxide simulator (routes-oxide.test.ts). */
export class FakeCloud implements CloudProvider, Instances, LoadBalancer {
  /** Instances by Node name. */
  readonly instancesByNode = new Map<string, FakeInstance>();
  /** Load balancers by `namespace/name`. */
  readonly loadBalancers = new Map<string, { status: LoadBalancerStatus; nodes: string[] }>();
  readonly calls: FakeCall[] = [];
  /** Errors to throw: one entry per upcoming call of that method (used up in order). */
  private readonly errors = new Map<Method, { err: Error; target?: string }[]>();
  private nextIp = 1;
  /** The class this fake handles besides "unset" (LoadBalancer.loadBalancerClass). */
  readonly loadBalancerClass = 'example.com/fake';

  providerName(): string {
    return 'fake';
  }
  instances(): Instances {
    return this;
  }
  loadBalancer(): LoadBalancer {
    return this;
  }
  routes(): undefined {
    return undefined;
  }

  /** The next `times` calls of method fail; only calls for `target` (Node or Service key) if given. */
  failNext(method: Method, err: Error, times = 1, target?: string): void {
    const list = this.errors.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(target === undefined ? { err } : { err, target });
    this.errors.set(method, list);
  }

  callsOf(method: Method): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** As the real provider: a call whose signal has aborted fails with its reason, doing nothing. */
  private enter(method: Method, target: string, signal: AbortSignal | undefined): void {
    this.calls.push(signal ? { method, target, signal } : { method, target });
    signal?.throwIfAborted();
    const list = this.errors.get(method) ?? [];
    const i = list.findIndex((e) => e.target === undefined || e.target === target);
    if (i >= 0) throw list.splice(i, 1)[0]?.err;
  }

  private lookup(node: V1Node): FakeInstance | undefined {
    return this.instancesByNode.get(node.metadata?.name ?? '');
  }

  async instanceExists(node: V1Node, signal?: AbortSignal): Promise<boolean> {
    this.enter('instanceExists', node.metadata?.name ?? '', signal);
    return this.lookup(node) !== undefined;
  }

  async instanceShutdown(node: V1Node, signal?: AbortSignal): Promise<boolean> {
    this.enter('instanceShutdown', node.metadata?.name ?? '', signal);
    const inst = this.lookup(node);
    if (!inst)
      throw new InstanceNotFoundError(`instance for node ${node.metadata?.name} not found`);
    return inst.shutdown === true;
  }

  async instanceMetadata(node: V1Node, signal?: AbortSignal): Promise<InstanceMetadata> {
    this.enter('instanceMetadata', node.metadata?.name ?? '', signal);
    const inst = this.lookup(node);
    if (!inst)
      throw new InstanceNotFoundError(`instance for node ${node.metadata?.name} not found`);
    return structuredClone(inst.metadata);
  }

  async ensureLoadBalancer(
    _cluster: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus> {
    const key = serviceKey(service);
    this.enter('ensureLoadBalancer', key, signal);
    const existing = this.loadBalancers.get(key);
    const status = existing?.status ?? {
      ingress: [{ ip: `192.0.2.${this.nextIp++}`, ipMode: 'Proxy' as const }],
    };
    this.loadBalancers.set(key, { status, nodes: nodes.map((n) => n.metadata?.name ?? '') });
    return structuredClone(status);
  }

  async updateLoadBalancer(
    _cluster: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus | void> {
    const key = serviceKey(service);
    this.enter('updateLoadBalancer', key, signal);
    const lb = this.loadBalancers.get(key);
    if (lb) lb.nodes = nodes.map((n) => n.metadata?.name ?? '');
  }

  async ensureLoadBalancerDeleted(
    _cluster: string,
    service: V1Service,
    signal?: AbortSignal,
  ): Promise<void> {
    const key = serviceKey(service);
    this.enter('ensureLoadBalancerDeleted', key, signal);
    this.loadBalancers.delete(key);
  }
}

const serviceKey = (s: V1Service): string => `${s.metadata?.namespace}/${s.metadata?.name}`;
