// Nexus' naming and selector rules, the same for every resource: a name is validated one way
// everywhere, and a resource is named either by id alone or by name within its parent.
import { ApiError, invalidRequest, notFound, type ResourceType } from '../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID.test(s);

const NAME = /^[a-z]([a-zA-Z0-9-]*[a-zA-Z0-9]+)?$/;
export function checkName(name: unknown, label = 'name'): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > 63 || isUuid(name)) {
    throw new ApiError(
      400,
      undefined,
      `unable to parse JSON body: ${label}: invalid name "${String(name)}"`,
    );
  }
  return name;
}

export const now = (): Date => new Date();

export function remove<T>(list: T[], match: (x: T) => boolean): void {
  for (let i = list.length - 1; i >= 0; i--) if (match(list[i] as T)) list.splice(i, 1);
}

/** A top-level resource (project, pool) by id or name. */
export function pickTop<T extends { id: string; name: string }>(
  type: ResourceType,
  ref: string,
  all: T[],
): T {
  const byId = isUuid(ref);
  const found = all.find((x) => (byId ? x.id === ref : x.name === ref));
  if (!found) throw notFound(type, byId ? 'id' : 'name', ref);
  return found;
}

const LABELS: Partial<Record<ResourceType, string>> = {
  'instance-network-interface': 'network interface',
  'vpc-subnet': 'subnet',
  'vpc-router': 'router',
  'router-route': 'route',
  'floating-ip': 'floating IP',
};

/**
 * Nexus' selector rule: an id must come alone; a name needs its parent selector (itself resolved
 * by the same rule).
 */
export function pick<T extends { id: string; name: string }>(
  type: ResourceType,
  ref: string,
  parents: Record<string, string | undefined>,
  all: T[],
  inParent: () => T[],
): T {
  const label = LABELS[type] ?? type;
  const names = Object.keys(parents);
  if (isUuid(ref)) {
    if (names.some((n) => parents[n] !== undefined)) {
      throw invalidRequest(
        `when providing ${label} as an ID ${names.join(' and ')} should not be specified`,
      );
    }
    return pickTop(type, ref, all);
  }
  if (parents[names[0] as string] === undefined) {
    throw invalidRequest(`${label} should either be UUID or ${names[0]} should be specified`);
  }
  const found = inParent().find((x) => x.name === ref);
  if (!found) throw notFound(type, 'name', ref);
  return found;
}
