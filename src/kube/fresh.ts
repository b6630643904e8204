// Our own writes reach the informer a moment after the apiserver answers them. A reconcile that
// runs in that window would read the pre-write object and write again (a second finalizer
// patch or Node update that conflicts, a second status patch with the same content, a second
// round of cloud calls). This remembers, per key,
// the object each write returned and the resourceVersions it superseded, so reads see our writes
// until the informer has caught up or moved past them.
import type { KubeObject } from './informer.ts';

interface Written<T> {
  superseded: Set<string>;
  latest: T;
}

export class FreshObjects<T extends KubeObject> {
  private readonly written = new Map<string, Written<T>>();
  private readonly transform: (obj: T) => T;

  /** transform: the informer's, so a remembered write costs what a cached object does. */
  constructor(transform: (obj: T) => T = (obj) => obj) {
    this.transform = transform;
  }

  /** Record that `before` was replaced by `after` through one of our writes. */
  wrote(key: string, before: T, after: T): void {
    // A write that took the last finalizer off a deleting object deleted it: the informer's delete
    // event may already have come (and forgotten the key), so remembering it now would keep it
    // for good (one Service object per LoadBalancer Service ever deleted).
    if (after.metadata?.deletionTimestamp && (after.metadata.finalizers ?? []).length === 0) {
      this.written.delete(key);
      return;
    }
    const rv = before.metadata?.resourceVersion;
    const latest = this.transform(after);
    const entry = this.written.get(key) ?? { superseded: new Set<string>(), latest };
    if (rv) entry.superseded.add(rv);
    entry.latest = latest;
    this.written.set(key, entry);
  }

  /** The freshest view of the informer's object. */
  read(key: string, cached: T): T {
    const entry = this.written.get(key);
    if (!entry) return cached;
    const rv = cached.metadata?.resourceVersion;
    if (rv && entry.superseded.has(rv)) return entry.latest;
    this.written.delete(key);
    return cached;
  }

  forget(key: string): void {
    this.written.delete(key);
  }
}
