// Shared by the delivery tests (manifest, RBAC, chart): the pinned helm and kubectl, the chart
// render exactly as `make manifest` produces it, and the release version from the Makefile.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot, testbin } from './testbin.ts';

const run = promisify(execFile);

export const CHART_DIR = join(repoRoot, 'charts', 'oxide-cloud-controller-manager');
export const MANIFEST_PATH = join(repoRoot, 'manifests', 'oxide-cloud-controller-manager.yaml');
export const NAME = 'oxide-cloud-controller-manager';
export const SERVICE_ACCOUNT_USER = `system:serviceaccount:kube-system:${NAME}`;

export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

/** The manifest text `make manifest` would write now; extra args go to `helm template`. */
export async function renderManifest(...helmArgs: string[]): Promise<string> {
  const { stdout } = await run(
    'bash',
    [join(repoRoot, 'hack', 'render-manifest.sh'), ...helmArgs],
    { env: { ...process.env, HELM: testbin('helm') }, maxBuffer: 16 << 20 },
  );
  return stdout;
}

export function parseManifest(text: string): KubeManifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeManifest | null)
    .filter((obj): obj is KubeManifest => obj !== null);
}

export function find(objects: KubeManifest[], kind: string, name?: string): KubeManifest {
  const hit = objects.find((o) => o.kind === kind && (!name || o.metadata.name === name));
  if (!hit) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in manifest`);
  return hit;
}

export async function helm(...args: string[]): Promise<string> {
  const { stdout } = await run(testbin('helm'), args, { cwd: repoRoot, maxBuffer: 16 << 20 });
  return stdout;
}

/** kubectl against the test apiserver; rejects with stderr in the message on non-zero exit. */
export async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  const child = execFile(testbin('kubectl'), ['--kubeconfig', kubeconfig, ...args], {
    maxBuffer: 16 << 20,
    timeout: 60_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(input ?? '');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  return stdout;
}

/** Server-side apply of the committed manifest (idempotent, so test files may race on it). */
export function applyManifest(kubeconfig: string): Promise<string> {
  return kubectl(kubeconfig, [
    'apply',
    '--server-side',
    '--field-manager=oxide-ccm-delivery-test',
    '-f',
    MANIFEST_PATH,
  ]);
}

/** VERSION as the Makefile sets it: the one place a release bump starts from. */
export function makefileVersion(): string {
  const text = readFileSync(join(repoRoot, 'Makefile'), 'utf8');
  const m = /^VERSION \?= (\S+)$/m.exec(text);
  if (!m?.[1]) throw new Error('no `VERSION ?= x.y.z` line in the Makefile');
  return m[1];
}
