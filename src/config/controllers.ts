// --controllers, with upstream's rules (k8s.io/controller-manager IsControllerEnabled): the first
// entry naming a controller decides ("name" on, "-name" off); otherwise "*" turns it on. Aliases
// (cloud-node, service, ...) are accepted wherever names are.
import { ALL_CONTROLLERS } from '../names.ts';
import type { ControllerName } from '../names.ts';
import { quote } from '../util/quote.ts';

function lookup(name: string): ControllerName | undefined {
  return ALL_CONTROLLERS.find((c) => c.name === name || c.alias === name);
}

export interface ControllerSelection {
  enabled: ControllerName[];
  errors: string[];
}

export function resolveControllers(entries: readonly string[]): ControllerSelection {
  const errors: string[] = [];
  for (const entry of entries) {
    if (entry === '*') continue;
    const name = entry.startsWith('-') ? entry.slice(1) : entry;
    if (!lookup(name)) {
      const known = ALL_CONTROLLERS.map((c) => `${c.name} (${c.alias})`).join(', ');
      errors.push(`--controllers: unknown controller ${quote(name)}; known: ${known}`);
    }
  }
  const enabled = ALL_CONTROLLERS.filter((controller) => {
    let star = false;
    for (const entry of entries) {
      if (entry === '*') star = true;
      else if (lookup(entry) === controller) return true;
      else if (entry.startsWith('-') && lookup(entry.slice(1)) === controller) return false;
    }
    return star;
  });
  return { enabled, errors };
}
