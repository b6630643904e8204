// The world the simulator starts with, from code or a small YAML/JSON file (`make sim SEED=...`).
// Each resource's seed shape and defaults live beside it in db/<resource>.ts.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { FloatingIpSeed } from './db/floating-ips.ts';
import type { InstanceSeed } from './db/instances.ts';
import type { PoolSeed } from './db/pools.ts';

export interface Seed {
  project?: string;
  pools?: PoolSeed[];
  instances?: InstanceSeed[];
  floatingIps?: FloatingIpSeed[];
}

export function loadSeed(path: string): Seed {
  const text = readFileSync(path, 'utf8');
  const value: unknown = path.endsWith('.json') ? JSON.parse(text) : parse(text);
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${path}: a seed is a mapping with project, pools, instances`);
  }
  const seed = value as Seed;
  if (seed.instances !== undefined && !Array.isArray(seed.instances)) {
    throw new Error(`${path}: instances must be a list`);
  }
  for (const [i, inst] of (seed.instances ?? []).entries()) {
    if (typeof inst?.name !== 'string') throw new Error(`${path}: instances[${i}] needs a name`);
  }
  return seed;
}
