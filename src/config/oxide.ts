// Oxide connection settings. Reading (env, *_FILE, the Oxide CLI profile, --cloud-config) is kept
// apart from validation so that every problem is reported at once. Per setting, the first source
// that has it wins:
//   1. OXIDE_HOST / OXIDE_TOKEN / OXIDE_PROJECT
//   2. OXIDE_HOST_FILE / OXIDE_TOKEN_FILE / OXIDE_PROJECT_FILE (a mounted Secret key)
//   3. OXIDE_PROFILE: host and token of that profile in the Oxide CLI's credentials.toml
//   4. the --cloud-config YAML file
// Environment first, as most CCMs do: a Secret wired into env is the documented deployment, and it
// must be able to override a cloud-config baked into a ConfigMap. The token value never appears in
// any message; messages name the source it came from instead.
import { readFileSync } from 'node:fs';
import { parseYamlQuietly } from '../util/yaml.ts';
import { cap, quote } from '../util/quote.ts';
import { credentialsPath, parseCredentials } from './credentials-file.ts';

export interface OxideSettings {
  /** Normalized: scheme://host[:port], no trailing slash. */
  host: string;
  token: string;
  /** The default project: the first of `projects`. */
  project: string;
  /** Every project holding the cluster's Nodes, default first, each once; omitted: `project`. */
  projects?: string[];
  /** PEM bundle of extra trusted CAs, for racks with private certificates. */
  ca?: string;
  region: string;
  zone: string;
}

interface Sourced {
  value: string;
  /** Where the value came from, for messages: never the value itself. */
  source: string;
}

export interface RawOxideConfig {
  host?: Sourced;
  token?: Sourced;
  project?: Sourced;
  ca?: Sourced;
  region?: Sourced;
  zone?: Sourced;
}

const CLOUD_CONFIG_KEYS = ['host', 'token', 'project', 'region', 'zone', 'caCertFile'] as const;
type CloudConfigKey = (typeof CLOUD_CONFIG_KEYS)[number];

function readText(path: string, what: string, errors: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    errors.push(`${what}: cannot read ${path} (${code})`);
    return undefined;
  }
}

/**
 * The YAML file's known keys. Content we cannot use is not an error: the Go CCM ignored the file's
 * content altogether, so a file it started with (an INI file of another CCM, keys of a newer
 * version) must not stop ours. It becomes one warning line per file, which never quotes values.
 * An unreadable file still fails, as it did upstream.
 */
function readCloudConfig(
  path: string,
  errors: string[],
  warnings: string[],
): Partial<Record<CloudConfigKey, string>> {
  const text = readText(path, '--cloud-config', errors);
  if (text === undefined) return {};
  const ignoredAll = (why: string): Partial<Record<CloudConfigKey, string>> => {
    warnings.push(
      `--cloud-config ${path}: ${why}; its content is ignored (expected a YAML mapping of ${CLOUD_CONFIG_KEYS.join(', ')})`,
    );
    return {};
  };
  // The YAML library quotes the offending line, which may be the token: the position only.
  const parsed = parseYamlQuietly(text);
  if ('problem' in parsed) return ignoredAll(`${parsed.problem} (an INI file?)`);
  const doc = parsed.value;
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) return ignoredAll('not a YAML mapping');
  const out: Partial<Record<CloudConfigKey, string>> = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(doc)) {
    const known = CLOUD_CONFIG_KEYS.find((k) => k === key);
    if (!known) ignored.push(`unknown key ${quote(key)}`);
    else if (typeof value !== 'string') ignored.push(`${key} (not a string)`);
    else out[known] = value;
  }
  if (ignored.length > 0)
    warnings.push(
      `--cloud-config ${path}: ignored ${ignored.join(', ')} (known keys: ${CLOUD_CONFIG_KEYS.join(', ')})`,
    );
  return out;
}

export function readOxideConfig(
  env: NodeJS.ProcessEnv,
  cloudConfigPath: string,
): { raw: RawOxideConfig; errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const raw: RawOxideConfig = {};
  const file = cloudConfigPath ? readCloudConfig(cloudConfigPath, errors, warnings) : {};
  const fileSource = `--cloud-config ${cloudConfigPath}`;

  let profile: { host?: string; token?: string } = {};
  let profileSource = '';
  const profileName = env['OXIDE_PROFILE'];
  if (profileName) {
    const path = credentialsPath(env);
    profileSource = `profile ${quote(profileName)} in ${path}`;
    const text = readText(path, 'OXIDE_PROFILE', errors);
    if (text !== undefined) {
      const found = parseCredentials(text).get(profileName);
      if (!found) errors.push(`OXIDE_PROFILE: no profile ${quote(profileName)} in ${path}`);
      else profile = found;
    }
  }

  for (const key of ['host', 'token', 'project'] as const) {
    const name = `OXIDE_${key.toUpperCase()}`;
    const direct = env[name];
    const fromFile = env[`${name}_FILE`];
    if (direct && fromFile) {
      errors.push(`${name} and ${name}_FILE are both set; set only one`);
      continue;
    }
    if (direct) raw[key] = { value: direct.trim(), source: name };
    else if (fromFile) {
      const text = readText(fromFile, `${name}_FILE`, errors);
      if (text !== undefined) raw[key] = { value: text.trim(), source: `${name}_FILE ${fromFile}` };
    } else if (key !== 'project' && profile[key]) {
      raw[key] = { value: profile[key], source: profileSource };
    } else if (file[key]) raw[key] = { value: file[key], source: fileSource };
  }

  const caPath = env['OXIDE_CA_CERT_FILE'] || file.caCertFile;
  if (caPath) {
    const what = env['OXIDE_CA_CERT_FILE'] ? 'OXIDE_CA_CERT_FILE' : `${fileSource} caCertFile`;
    const pem = readText(caPath, what, errors);
    if (pem !== undefined) raw.ca = { value: pem, source: `${what} ${caPath}` };
  }
  if (file.region) raw.region = { value: file.region, source: fileSource };
  if (file.zone) raw.zone = { value: file.zone, source: fileSource };
  return { raw, errors, warnings };
}

// The Oxide Name schema (OpenAPI `Name`) or a UUID (`NameOrId`).
const NAME = /^[a-z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** RFC 1035 limits on a host name and on each of its labels. */
const MAX_HOST_NAME = 253;
const MAX_LABEL = 63;

/** The host as an origin; like the Go SDK, a bare host name means https. */
export function normalizeHost(text: string): { host?: string; problem?: string } {
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { problem: 'is not a URL (expected https://rack.example.com)' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { problem: `must use http:// or https://, not ${cap(url.protocol, 40)}//` };
  if (url.username || url.password) return { problem: 'must not contain user information' };
  // URL takes any length; DNS does not. Refused here, a 20 MB value never reaches a log line.
  const { hostname } = url;
  if (hostname.length > MAX_HOST_NAME || hostname.split('.').some((l) => l.length > MAX_LABEL))
    return {
      problem:
        `is not a host name: ${hostname.length} characters (DNS allows ${MAX_HOST_NAME}, ` +
        `${MAX_LABEL} per label)`,
    };
  if (url.pathname !== '/' || url.search || url.hash)
    return { problem: `must not have a path, query or fragment (expected ${quote(url.origin)})` };
  return { host: url.origin };
}

/** A comma-separated list of projects: items trimmed, empty ones dropped. */
export function splitProjects(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The projects, default first: --oxide-projects when given, else OXIDE_PROJECT (or its file,
 * or cloud-config `project`), which may be a comma-separated list too, so a Secret-only
 * deployment can name several. Both given: they must agree on the default project, since the
 * floating IPs of existing Services live there.
 */
function validateProjects(
  raw: RawOxideConfig,
  flag: readonly string[],
  errors: string[],
): string[] {
  const fromSetting = raw.project ? splitProjects(raw.project.value) : [];
  const source = flag.length > 0 ? '--oxide-projects' : (raw.project?.source ?? '');
  const projects = flag.length > 0 ? [...flag] : fromSetting;
  if (projects.length === 0) {
    errors.push('Oxide project is not set: set OXIDE_PROJECT (or project in --cloud-config)');
    return [];
  }
  if (flag.length > 0 && raw.project && fromSetting[0] !== flag[0]) {
    errors.push(
      `--oxide-projects starts with ${quote(flag[0] ?? '')} but ${raw.project.source} names ` +
        `${quote(fromSetting[0] ?? '')}: the default project must be the same in both ` +
        '(existing floating IPs live there); put it first in --oxide-projects',
    );
  }
  const seen = new Set<string>();
  for (const project of projects) {
    if (project.length > 63 || (!NAME.test(project) && !UUID.test(project)))
      errors.push(
        `Oxide project ${quote(project)} from ${source} is neither an Oxide name nor an id`,
      );
    else if (seen.has(project.toLowerCase()))
      errors.push(`Oxide project ${quote(project)} is listed twice in ${source}`);
    seen.add(project.toLowerCase());
  }
  return projects;
}

export function validateOxideConfig(
  raw: RawOxideConfig,
  projectsFlag: readonly string[] = [],
): {
  settings?: OxideSettings;
  errors: string[];
} {
  const errors: string[] = [];
  let host = '';
  if (!raw.host?.value)
    errors.push(
      'Oxide host is not set: set OXIDE_HOST (or OXIDE_PROFILE, or host in --cloud-config)',
    );
  else {
    const { host: normalized, problem } = normalizeHost(raw.host.value);
    // A URL that fails to parse may be a pasted secret: quote it only when it parsed.
    if (problem) errors.push(`Oxide host from ${raw.host.source} ${problem}`);
    else host = normalized ?? '';
  }
  if (!raw.token?.value)
    errors.push(
      'Oxide token is not set: set OXIDE_TOKEN or OXIDE_TOKEN_FILE (or OXIDE_PROFILE, or token in --cloud-config)',
    );
  else if (/\s/.test(raw.token.value))
    errors.push(`Oxide token from ${raw.token.source} contains whitespace; check the Secret`);
  const projects = validateProjects(raw, projectsFlag, errors);
  if (raw.ca && !raw.ca.value.includes('-----BEGIN CERTIFICATE-----'))
    errors.push(`CA bundle ${raw.ca.source} contains no PEM certificate`);
  if (errors.length > 0) return { errors };
  return {
    settings: {
      host,
      token: raw.token?.value ?? '',
      project: projects[0] ?? '',
      projects,
      ...(raw.ca ? { ca: raw.ca.value } : {}),
      region: raw.region?.value ?? '',
      zone: raw.zone?.value ?? '',
    },
    errors,
  };
}

/**
 * Read and validate in one go; errors and warnings are one line each and never contain the token.
 * Warnings (cloud-config content we ignore) do not stop the start.
 */
export function loadOxideConfig(
  env: NodeJS.ProcessEnv,
  cloudConfigPath: string,
  projectsFlag: readonly string[] = [],
): { settings?: OxideSettings; errors: string[]; warnings: string[] } {
  const { raw, errors, warnings } = readOxideConfig(env, cloudConfigPath);
  const validated = validateOxideConfig(raw, projectsFlag);
  return validated.settings && errors.length === 0
    ? { ...validated, warnings }
    : { errors: [...errors, ...validated.errors], warnings };
}
