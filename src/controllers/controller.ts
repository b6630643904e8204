// What main.ts needs to know about a controller: its canonical name and how to run it.
import type { CloudProvider } from '../cloud/provider.ts';
import type { KubeClient } from '../kube/client.ts';
import type { EventRecorder, InvolvedKind } from '../kube/events.ts';
import type { SharedInformers } from '../kube/informers.ts';
import type { Logger } from '../log.ts';
import type { ControllerName } from '../names.ts';

export interface Controller {
  readonly name: ControllerName;
  /** Waits for caches, runs workers and periodic loops; resolves after signal aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/** Dependencies every controller constructor receives. */
export interface ControllerContext {
  kube: KubeClient;
  cloud: CloudProvider;
  informers: SharedInformers;
  /** Creates a recorder whose events carry the given source component, about objects of `kind`. */
  recorder(component: string, kind: InvolvedKind): EventRecorder;
  log: Logger;
  clusterName: string;
}
