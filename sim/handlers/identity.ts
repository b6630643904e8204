// The name/description half of every PUT: Nexus validates a new name and refuses one a sibling
// (same parent) already holds; absent or null fields leave the stored value as it is.
import { checkName } from '../db/select.ts';
import { alreadyExists, type ResourceType } from '../errors.ts';
import { isSet } from '../http.ts';

interface Named {
  name: string;
  description: string;
  timeModified: Date;
}

interface IdentityUpdate {
  name?: string | null;
  description?: string | null;
}

/** Throws 400/409 for a rename the API refuses; changes nothing, so later checks may still fail. */
export function checkRename(
  type: ResourceType,
  resource: Named,
  next: string | null | undefined,
  siblings: readonly { name: string }[],
): void {
  if (!isSet(next) || next === resource.name) return;
  checkName(next);
  if (siblings.some((s) => s !== resource && s.name === next)) throw alreadyExists(type, next);
}

export function applyIdentity(resource: Named, update: IdentityUpdate): void {
  if (isSet(update.name)) resource.name = update.name;
  if (isSet(update.description)) resource.description = update.description;
  resource.timeModified = new Date();
}
