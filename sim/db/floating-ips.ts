// Floating IPs (handlers/floating-ips.ts): created from a silo pool, attached to one instance at
// a time within their project, deleted only when detached.
import { randomUUID } from 'node:crypto';
import type { FloatingIp } from '@oxide/api';
import type { Silo } from './types.ts';
import { alreadyExists, invalidRequest } from '../errors.ts';
import { type Family, familyOf } from '../ip.ts';
import { stackParts } from './nics.ts';
import { allocateExternal } from './pools.ts';
import { checkName, isUuid, now, remove } from './select.ts';

/** A user-created floating IP (e.g. for adoption tests); v4 from the default pool by default. */
export interface FloatingIpSeed {
  name: string;
  description?: string;
  ip?: string;
  pool?: string;
  ipVersion?: 'v4' | 'v6';
  /** Instance name to attach it to. */
  instance?: string;
}

export interface FloatingIpSpec {
  name: string;
  description?: string;
  project?: string;
  /** Explicit address; it must lie in a silo-linked pool. */
  ip?: string;
  /** Pool name or id; the silo's default pool of `ipVersion` otherwise. */
  pool?: string;
  /**
   * Default-pool version. Omitted means v4 (a test convenience); null is the API's "auto", which
   * is a 400 when the silo has both a v4 and a v6 default pool.
   */
  ipVersion?: Family | null;
  /** Instance name (in the FIP's project) or id to attach to. */
  instance?: string;
}

const MAX_EXTERNAL_IPS = 32;

export function createFloatingIp(db: Silo, spec: FloatingIpSpec): FloatingIp {
  const project = db.project(spec.project ?? db.defaultProject);
  checkName(spec.name);
  if (db.floatingIps.some((f) => f.projectId === project.id && f.name === spec.name)) {
    throw alreadyExists('floating-ip', spec.name);
  }
  const { pool, ip } = allocateExternal(db, {
    ...spec,
    ipVersion: spec.ipVersion === undefined ? 'v4' : spec.ipVersion,
  });
  const t = now();
  const fip: FloatingIp = {
    id: randomUUID(),
    name: spec.name,
    description: spec.description ?? '',
    ip,
    ipPoolId: pool.id,
    projectId: project.id,
    instanceId: null,
    timeCreated: t,
    timeModified: t,
  };
  db.floatingIps.push(fip);
  if (spec.instance !== undefined) attachFloatingIp(db, fip.id, spec.instance);
  return fip;
}

/** Attaches to an instance (name in the FIP's project, or id); a no-op when already there. */
export function attachFloatingIp(
  db: Silo,
  fipNameOrId: string,
  instanceNameOrId: string,
): FloatingIp {
  const fip = db.findFloatingIp(fipNameOrId);
  const instance = isUuid(instanceNameOrId)
    ? db.instance(instanceNameOrId, {})
    : db.instance(instanceNameOrId, { project: fip.projectId });
  if (fip.instanceId === instance.id) return fip;
  if (fip.instanceId) {
    throw invalidRequest(
      'floating IP cannot be attached to one instance while still attached to another',
    );
  }
  if (instance.projectId !== fip.projectId) {
    throw invalidRequest('floating IP must be in the same project as the instance');
  }
  const family = familyOf(fip.ip);
  const primary = db.nics.find((n) => n.instanceId === instance.id && n.primary);
  if (!primary || !family || !stackParts(primary.ipStack)[family]) {
    throw invalidRequest(
      `cannot attach an ${family === 'v6' ? 'IPv6' : 'IPv4'} floating IP to an instance whose primary interface has no ${family === 'v6' ? 'IPv6' : 'IPv4'} address`,
    );
  }
  const held =
    db.floatingIps.filter((f) => f.instanceId === instance.id).length +
    db.externalIps.filter((e) => e.instanceId === instance.id && e.view.kind === 'ephemeral')
      .length;
  if (held >= MAX_EXTERNAL_IPS) {
    throw invalidRequest(
      `an instance may not have more than ${MAX_EXTERNAL_IPS} external IP addresses`,
    );
  }
  fip.instanceId = instance.id;
  fip.timeModified = now();
  return fip;
}

export function detachFloatingIp(db: Silo, fipNameOrId: string): FloatingIp {
  const fip = db.findFloatingIp(fipNameOrId);
  if (fip.instanceId) {
    fip.instanceId = null;
    fip.timeModified = now();
  }
  return fip;
}

export function deleteFloatingIp(db: Silo, fipNameOrId: string): void {
  const fip = db.findFloatingIp(fipNameOrId);
  if (fip.instanceId) {
    throw invalidRequest('Floating IP cannot be deleted while attached to an instance');
  }
  remove(db.floatingIps, (f) => f.id === fip.id);
}
