// Locates (building on first use) the pinned test binaries: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubectl, kwok, helm, promtool.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: string | undefined;

export function testbinDir(): string {
  if (cached) return cached;
  const out = execFileSync('bash', [join(repoRoot, 'hack', 'testbin.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cached = out.trim().split('\n').pop() ?? '';
  return cached;
}

export type TestBinary =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubectl'
  | 'kwok'
  | 'helm'
  | 'promtool';

export function testbin(name: TestBinary): string {
  const path = join(testbinDir(), name);
  if (!existsSync(path))
    throw new Error(`${name} not found in ${testbinDir()}; run hack/testbin.sh`);
  return path;
}
