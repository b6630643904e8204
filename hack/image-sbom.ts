// Writes the CycloneDX 1.6 SBOM of one architecture's staged image root (hack/build-image.sh):
//   node hack/image-sbom.ts --root dist/image-root/amd64 --arch amd64 --version X --out FILE
// Components, each read from what is actually staged, never from a hand list:
//   - the Debian packages: the dpkg status entries in var/lib/dpkg/status.d/ (purl pkg:deb),
//   - the Node.js binary: the npm package hack/image-inputs.lock pins (purl pkg:npm, and the
//     nodejs CPE scanners match Node.js advisories on),
//   - the launcher and the Go standard library it links (pkg:golang/stdlib, the pinned Go),
//   - the bundle and every npm package esbuild put in it (dist/…mjs.packages.json, hack/bundle.ts).
// Deterministic: components sorted, the timestamp is SOURCE_DATE_EPOCH, the serial number is
// derived from the content, so two builds of one commit write the same bytes.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    arch: { type: 'string' },
    version: { type: 'string', default: 'dev' },
    revision: { type: 'string', default: 'unknown' },
    image: { type: 'string', default: 'ghcr.io/oxidecomputer/oxide-cloud-controller-manager' },
    packages: { type: 'string', default: 'dist/oxide-cloud-controller-manager.mjs.packages.json' },
    lock: { type: 'string', default: 'hack/image-inputs.lock' },
    out: { type: 'string' },
    // How /usr/bin/node was made from the npm package's bin/node (hack/build-image.sh).
    'node-npm-sha256': { type: 'string' },
    'node-strip': { type: 'string' },
  },
});
const { root, arch, out } = values;
if (!root || !arch || !out || !values['node-npm-sha256'] || !values['node-strip']) {
  console.error(
    'usage: image-sbom.ts --root DIR --arch amd64|arm64 --out FILE --node-npm-sha256 HEX --node-strip HOW [--version V]',
  );
  process.exit(2);
}

interface Component {
  type: 'library' | 'application' | 'operating-system';
  'bom-ref': string;
  name: string;
  group?: string;
  version: string;
  purl?: string;
  cpe?: string;
  licenses?: ({ license: { id: string } | { name: string } } | { expression: string })[];
  hashes?: { alg: 'SHA-256' | 'SHA-512'; content: string }[];
  properties?: { name: string; value: string }[];
}

const sha256 = (path: string): string =>
  createHash('sha256').update(readFileSync(path)).digest('hex');

/** SPDX id or expression as CycloneDX wants it: a single id as license.id, else an expression. */
function spdx(license: string): Component['licenses'] {
  return /^[A-Za-z0-9.+-]+$/.test(license)
    ? [{ license: { id: license } }]
    : [{ expression: license }];
}

/** purl version/name segments: percent-encode everything but unreserved characters. */
const enc = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);

const lockLines = readFileSync(values.lock, 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => l.split(/\s+/));

const components: Component[] = [];

// Debian packages, from the status entries build-image.sh wrote from each .deb's control file.
const statusDir = join(root, 'debian', 'var', 'lib', 'dpkg', 'status.d');
const osRelease = readFileSync(join(root, 'debian', 'etc', 'os-release'), 'utf8');
const osVersion = /^VERSION_ID="?([^"\n]+)"?/m.exec(osRelease)?.[1] ?? 'unknown';
const debianVersion = readFileSync(join(root, 'debian', 'etc', 'debian_version'), 'utf8').trim();
for (const file of readdirSync(statusDir)
  .filter((f) => !f.includes('.'))
  .sort()) {
  const fields = new Map<string, string>();
  for (const m of readFileSync(join(statusDir, file), 'utf8').matchAll(/^([A-Za-z-]+): (.*)$/gm)) {
    fields.set(m[1] ?? '', m[2] ?? '');
  }
  const name = fields.get('Package') ?? file;
  const version = fields.get('Version') ?? '';
  const debArch = fields.get('Architecture') ?? arch;
  const source = (fields.get('Source') ?? name).split(' ')[0] ?? name;
  const purl = `pkg:deb/debian/${enc(name)}@${enc(version)}?arch=${debArch}&distro=debian-${osVersion}`;
  const lock = lockLines.find((l) => l[0] === 'deb' && l[1] === name && l[2] === version);
  components.push({
    type: 'library',
    'bom-ref': purl,
    name,
    version,
    purl,
    licenses: [{ license: { name: `see /usr/share/doc/${name}/copyright` } }],
    ...(lock?.[4]?.startsWith('sha256:')
      ? { hashes: [{ alg: 'SHA-256' as const, content: lock[4].slice(7) }] }
      : {}),
    properties: [
      { name: 'debian:source', value: source },
      { name: 'debian:package-file-sha256', value: lock?.[4] ?? 'unknown' },
    ],
  });
}
components.push({
  type: 'operating-system',
  'bom-ref': `os:debian@${debianVersion}`,
  name: 'debian',
  version: debianVersion,
});

// Node.js, as the pinned npm package ships it.
const nodeLock = lockLines.find((l) => l[0] === 'npm' && l[3] === arch);
if (!nodeLock) throw new Error(`no Node.js package for ${arch} in ${values.lock}`);
const [, nodePkg = '', nodeVersion = '', , nodeIntegrity = ''] = nodeLock;
components.push({
  type: 'application',
  'bom-ref': `pkg:npm/${nodePkg}@${nodeVersion}`,
  name: nodePkg,
  version: nodeVersion,
  purl: `pkg:npm/${nodePkg}@${nodeVersion}`,
  cpe: `cpe:2.3:a:nodejs:node.js:${nodeVersion}:*:*:*:*:*:*:*`,
  licenses: spdx('MIT'),
  hashes: [
    { alg: 'SHA-512', content: Buffer.from(nodeIntegrity.slice(7), 'base64').toString('hex') },
  ],
  properties: [
    { name: 'path', value: '/usr/bin/node' },
    // The shipped file, and how it derives from the package's bin/node (whose hash is the npm
    // package's, above): redo the strip on the npm binary and compare.
    { name: 'sha256', value: sha256(join(root, 'node', 'usr', 'bin', 'node')) },
    { name: 'npm-bin-node-sha256', value: values['node-npm-sha256'] },
    { name: 'derived-by', value: values['node-strip'] },
  ],
});

// The launcher and the Go standard library compiled into it.
const goVersion = lockLines.find((l) => l[0] === 'go')?.[2] ?? 'unknown';
const launcher = join(root, 'app', 'usr', 'bin', 'oxide-cloud-controller-manager');
components.push(
  {
    type: 'application',
    'bom-ref': 'launcher',
    name: 'oxide-cloud-controller-manager-launcher',
    version: values.version,
    licenses: spdx('MPL-2.0'),
    hashes: [{ alg: 'SHA-256', content: sha256(launcher) }],
    properties: [{ name: 'path', value: '/usr/bin/oxide-cloud-controller-manager' }],
  },
  {
    type: 'library',
    'bom-ref': `pkg:golang/stdlib@${goVersion}`,
    name: 'stdlib',
    version: goVersion,
    purl: `pkg:golang/stdlib@${goVersion}`,
    licenses: spdx('BSD-3-Clause'),
  },
);

// The bundle and what esbuild put into it.
const lib = join(root, 'app', 'usr', 'lib', 'oxide-cloud-controller-manager');
components.push({
  type: 'application',
  'bom-ref': 'bundle',
  name: 'oxide-cloud-controller-manager',
  version: values.version,
  licenses: spdx('MPL-2.0'),
  hashes: [{ alg: 'SHA-256', content: sha256(join(lib, 'oxide-cloud-controller-manager.mjs')) }],
  properties: [
    {
      name: 'path',
      value: '/usr/lib/oxide-cloud-controller-manager/oxide-cloud-controller-manager.mjs',
    },
    { name: 'vcs-revision', value: values.revision },
  ],
});
const bundled = JSON.parse(readFileSync(values.packages, 'utf8')) as {
  name: string;
  version: string;
  license: string;
  integrity: string;
}[];
for (const pkg of bundled) {
  const [group, name] = pkg.name.startsWith('@') ? pkg.name.split('/') : [undefined, pkg.name];
  const purl = `pkg:npm/${group ? `${enc(group)}/` : ''}${enc(name ?? pkg.name)}@${enc(pkg.version)}`;
  components.push({
    type: 'library',
    'bom-ref': purl,
    ...(group ? { group } : {}),
    name: name ?? pkg.name,
    version: pkg.version,
    purl,
    licenses: spdx(pkg.license),
    ...(pkg.integrity.startsWith('sha512-')
      ? {
          hashes: [
            {
              alg: 'SHA-512' as const,
              content: Buffer.from(pkg.integrity.slice(7), 'base64').toString('hex'),
            },
          ],
        }
      : {}),
  });
}

components.sort((a, b) => a['bom-ref'].localeCompare(b['bom-ref']));
const epoch = Number(process.env['SOURCE_DATE_EPOCH'] ?? '0');
const digest = createHash('sha256')
  .update(JSON.stringify([values.image, values.version, arch, components]))
  .digest('hex');
// A UUID (version 4 layout) taken from the content's hash, so equal content gets an equal serial.
const uuid = [
  digest.slice(0, 8),
  digest.slice(8, 12),
  `4${digest.slice(13, 16)}`,
  `${((parseInt(digest.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${digest.slice(17, 20)}`,
  digest.slice(20, 32),
].join('-');
const bom = {
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  serialNumber: `urn:uuid:${uuid}`,
  version: 1,
  metadata: {
    timestamp: new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    tools: { components: [{ type: 'application', name: 'hack/image-sbom.ts' }] },
    component: {
      type: 'container',
      'bom-ref': 'image',
      name: values.image,
      version: values.version,
      properties: [
        { name: 'platform', value: `linux/${arch}` },
        { name: 'vcs-revision', value: values.revision },
      ],
    },
  },
  components,
  dependencies: [{ ref: 'image', dependsOn: components.map((c) => c['bom-ref']) }],
};
writeFileSync(out, `${JSON.stringify(bom, null, 2)}\n`);
console.log(`sbom: ${out}: ${components.length} components`);
