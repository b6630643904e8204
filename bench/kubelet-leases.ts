// What 1000 idle kubelets do to the apiserver all day: renew their Node's Lease in
// kube-node-lease every 10 s (kubelet's default renew interval, a quarter of the 40 s lease).
// Written from the benchmark process, outside the CCM, so an idle row measures what the CCM pays
// for watching a live cluster (a Lease watch, if it has one) rather than a frozen one.
import type { KubeClient } from '../src/kube/client.ts';
import { mapConcurrent } from '../src/util/async.ts';

const NS = 'kube-node-lease';

/** A Lease's renewTime is a MicroTime: six fractional digits, as kubelet writes it. */
const microTime = (d = new Date()): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const LEASE_SECONDS = 40;

export class KubeletLeases {
  private readonly kube: KubeClient;
  private readonly names: readonly string[];
  private readonly periodMs: number;
  private timer: NodeJS.Timeout | undefined;
  private slot = 0;
  renewals = 0;
  failures = 0;

  constructor(kube: KubeClient, names: readonly string[], periodMs = 10_000) {
    this.kube = kube;
    this.names = names;
    this.periodMs = periodMs;
  }

  /** Creates every Lease (held by its Node, as kubelet does), then renews them spread over the period. */
  async start(): Promise<void> {
    // kube-apiserver creates kube-node-lease itself only when something asks for it (kubelet does).
    await this.kube.post('/api/v1/namespaces', { metadata: { name: NS } }).catch(() => undefined);
    await mapConcurrent(this.names, 50, (name) =>
      this.kube
        .post(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, {
          metadata: { name },
          spec: {
            holderIdentity: name,
            leaseDurationSeconds: LEASE_SECONDS,
            renewTime: microTime(),
          },
        })
        .catch(() => undefined),
    );
    // Ten slots per period: each tick renews a tenth of the Leases, so renewals are spread as
    // independent kubelets' are, not one burst every 10 s.
    const slots = 10;
    this.timer = setInterval(() => {
      const slot = this.slot++ % slots;
      const batch = this.names.filter((_, i) => i % slots === slot);
      const renewTime = microTime();
      void mapConcurrent(batch, 50, (name) =>
        this.kube
          .patch(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`, 'merge', {
            spec: { renewTime },
          })
          .then(
            () => (this.renewals += 1),
            () => (this.failures += 1),
          ),
      );
    }, this.periodMs / slots);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
