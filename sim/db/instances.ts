// Instances and their own external addresses (handlers/instances.ts): an instance is seeded with
// its NICs (nics.ts) and, optionally, an ephemeral and a SNAT address from the silo's pools.
import { randomUUID } from 'node:crypto';
import type { ExternalIp, Instance, InstanceState } from '@oxide/api';
import type { InstanceExternalIp, Silo } from './types.ts';
import { alreadyExists } from '../errors.ts';
import { addNic, type AddressSeed, type NicSeed } from './nics.ts';
import { allocateExternal } from './pools.ts';
import { checkName, now, remove } from './select.ts';

export interface InstanceSeed {
  name: string;
  hostname?: string;
  description?: string;
  ncpus?: number;
  memoryGiB?: number;
  runState?: InstanceState;
  id?: string;
  /** Project name; the seeded project when omitted. */
  project?: string;
  nics?: NicSeed[];
  ephemeralIp?: AddressSeed;
  snatIp?: AddressSeed;
}

const GiB = 1024 ** 3;

export function addInstance(db: Silo, seed: InstanceSeed): Instance {
  const project = db.project(seed.project ?? db.defaultProject);
  checkName(seed.name);
  if (db.instances.some((i) => i.projectId === project.id && i.name === seed.name)) {
    throw alreadyExists('instance', seed.name);
  }
  const t = now();
  const instance: Instance = {
    id: seed.id ?? randomUUID(),
    name: seed.name,
    description: seed.description ?? '',
    hostname: seed.hostname ?? seed.name,
    ncpus: seed.ncpus ?? 2,
    memory: (seed.memoryGiB ?? 8) * GiB,
    projectId: project.id,
    runState: seed.runState ?? 'running',
    autoRestartEnabled: true,
    autoRestartPolicy: null,
    autoRestartCooldownExpiration: null,
    bootDiskId: null,
    cpuPlatform: null,
    enableJumboFrames: false,
    timeCreated: t,
    timeModified: t,
    timeRunStateUpdated: t,
    timeLastAutoRestarted: null,
  };
  if (db.instances.some((i) => i.id === instance.id))
    throw new Error(`duplicate instance id ${instance.id}`);
  db.instances.push(instance);
  const nics = seed.nics ?? [{}];
  const primaryIndex = Math.max(
    0,
    nics.findIndex((n) => n.primary === true),
  );
  nics.forEach((n, i) => addNic(db, instance.id, { ...n, primary: i === primaryIndex }));
  if (seed.snatIp !== undefined) addExternalIp(db, instance, 'snat', seed.snatIp);
  if (seed.ephemeralIp !== undefined) addExternalIp(db, instance, 'ephemeral', seed.ephemeralIp);
  return instance;
}

export function setRunState(db: Silo, nameOrId: string, state: InstanceState): Instance {
  const instance = db.findInstance(nameOrId);
  const t = now();
  instance.runState = state;
  instance.timeRunStateUpdated = t;
  instance.timeModified = t;
  return instance;
}

/** Removes the instance with its NICs and ephemeral/SNAT IPs; its floating IPs are detached. */
export function deleteInstance(db: Silo, nameOrId: string): void {
  const instance = db.findInstance(nameOrId);
  remove(db.instances, (i) => i.id === instance.id);
  remove(db.nics, (n) => n.instanceId === instance.id);
  remove(db.externalIps, (e) => e.instanceId === instance.id);
  for (const f of db.floatingIps) if (f.instanceId === instance.id) f.instanceId = null;
}

/** Every external address of an instance, as GET /v1/instances/{instance}/external-ips lists them. */
export function instanceExternalIps(db: Silo, instanceId: string): ExternalIp[] {
  return [
    ...db.externalIps.filter((e) => e.instanceId === instanceId).map((e) => e.view),
    ...db.floatingIps
      .filter((f) => f.instanceId === instanceId)
      .map((f): ExternalIp => ({ ...f, kind: 'floating' })),
  ];
}

function addExternalIp(
  db: Silo,
  instance: Instance,
  kind: 'snat' | 'ephemeral',
  address: string,
): void {
  const { pool, ip } = allocateExternal(db, {
    ip: address,
    ipVersion: address === 'auto' ? 'v4' : null,
  });
  const view: InstanceExternalIp['view'] =
    kind === 'snat'
      ? { kind, ip, ipPoolId: pool.id, firstPort: 0, lastPort: 16383 }
      : { kind, ip, ipPoolId: pool.id };
  db.externalIps.push({ instanceId: instance.id, view });
}
