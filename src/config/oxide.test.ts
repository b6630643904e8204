import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCredentials } from './credentials-file.ts';
import { loadOxideConfig, normalizeHost } from './oxide.ts';

const TOKEN = 'oxide-token-SECRET-7f3a9c';
const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('env only', () => {
  const { settings, errors } = loadOxideConfig(
    { OXIDE_HOST: 'https://rack.example.com/', OXIDE_TOKEN: TOKEN, OXIDE_PROJECT: 'k8s' },
    '',
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(settings, {
    host: 'https://rack.example.com',
    token: TOKEN,
    project: 'k8s',
    projects: ['k8s'],
    region: '',
    zone: '',
  });
});

test('*_FILE variants, trimmed; both forms set is an error', () => {
  const tokenFile = file('token', `${TOKEN}\n`);
  const ok = loadOxideConfig(
    {
      OXIDE_HOST: 'rack.example.com:8443',
      OXIDE_TOKEN_FILE: tokenFile,
      OXIDE_PROJECT_FILE: file('project', 'k8s\n'),
    },
    '',
  );
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.settings?.token, TOKEN);
  assert.equal(ok.settings?.project, 'k8s');
  assert.equal(
    ok.settings?.host,
    'https://rack.example.com:8443',
    'bare host means https, as the Go SDK',
  );
  const both = loadOxideConfig(
    {
      OXIDE_HOST: 'https://r',
      OXIDE_TOKEN: TOKEN,
      OXIDE_TOKEN_FILE: tokenFile,
      OXIDE_PROJECT: 'k8s',
    },
    '',
  );
  assert.deepEqual(both.errors, [
    'OXIDE_TOKEN and OXIDE_TOKEN_FILE are both set; set only one',
    'Oxide token is not set: set OXIDE_TOKEN or OXIDE_TOKEN_FILE (or OXIDE_PROFILE, or token in --cloud-config)',
  ]);
});

test('OXIDE_PROFILE reads the Oxide CLI credentials file', () => {
  const credDir = mkdtempSync(join(dir, 'cli-'));
  writeFileSync(
    join(credDir, 'credentials.toml'),
    [
      '# written by oxide auth login',
      '[profile.default]',
      'host = "https://other.example.com"',
      `token = "other-token"`,
      'user = "1f2e"',
      '',
      '[profile."lab.rack"]',
      "host = 'https://lab.example.com'",
      `token = "${TOKEN}" # trailing comment`,
    ].join('\n'),
  );
  const env = { OXIDE_PROFILE: 'lab.rack', OXIDE_CONFIG_DIR: credDir, OXIDE_PROJECT: 'k8s' };
  const { settings, errors } = loadOxideConfig(env, '');
  assert.deepEqual(errors, []);
  assert.equal(settings?.host, 'https://lab.example.com');
  assert.equal(settings?.token, TOKEN);
  // Env wins over the profile, per setting.
  assert.equal(
    loadOxideConfig({ ...env, OXIDE_HOST: 'https://env.example.com' }, '').settings?.host,
    'https://env.example.com',
  );
  const missing = loadOxideConfig({ ...env, OXIDE_PROFILE: 'nope' }, '');
  assert.equal(
    missing.errors[0],
    `OXIDE_PROFILE: no profile "nope" in ${join(credDir, 'credentials.toml')}`,
  );
});

test('TOML subset: escapes, literal strings, other tables ignored', () => {
  const profiles = parseCredentials(
    '[other]\nhost = "x"\n[profile.a]\nhost = "h\\u0041\\"q"\ntoken = \'lit\\n\'\nport = 5\n',
  );
  assert.deepEqual([...profiles.keys()], ['a']);
  assert.deepEqual(profiles.get('a'), { host: 'hA"q', token: 'lit\\n' });
});

test('--cloud-config YAML; env wins over it', () => {
  const ca = file('ca.pem', PEM);
  const cfg = file(
    'cloud.yaml',
    `host: https://file.example.com\ntoken: ${TOKEN}\nproject: from-file\nregion: r1\nzone: z1\ncaCertFile: ${ca}\n`,
  );
  const fromFile = loadOxideConfig({}, cfg);
  assert.deepEqual(fromFile.errors, []);
  assert.deepEqual(fromFile.settings, {
    host: 'https://file.example.com',
    token: TOKEN,
    project: 'from-file',
    projects: ['from-file'],
    ca: PEM,
    region: 'r1',
    zone: 'z1',
  });
  const envWins = loadOxideConfig(
    { OXIDE_PROJECT: 'from-env', OXIDE_CA_CERT_FILE: file('ca2.pem', PEM + PEM) },
    cfg,
  );
  assert.equal(envWins.settings?.project, 'from-env');
  assert.equal(envWins.settings?.ca, PEM + PEM);
});

test('cloud-config content we cannot use is one warning line, never an error or the token', () => {
  const env = { OXIDE_HOST: 'https://rack.example.com', OXIDE_TOKEN: TOKEN, OXIDE_PROJECT: 'k8s' };
  const cfg = file('bad.yaml', 'host: https://r\ntoken: 5\ninsecure: true\nregion: r1\n');
  const keys = loadOxideConfig(env, cfg);
  assert.deepEqual(keys.errors, []);
  assert.equal(keys.settings?.region, 'r1', 'the usable keys are used');
  assert.deepEqual(keys.warnings, [
    `--cloud-config ${cfg}: ignored token (not a string), unknown key "insecure" (known keys: host, token, project, region, zone, caCertFile)`,
  ]);
  // An INI file of another CCM (the Go CCM started with any content).
  const ini = file('cloud.conf', `[Global]\nauth-url = https://x\ntoken = "${TOKEN}\n`);
  const fromIni = loadOxideConfig(env, ini);
  assert.deepEqual(fromIni.errors, []);
  assert.equal(fromIni.settings?.host, 'https://rack.example.com');
  assert.equal(fromIni.warnings.length, 1);
  assert.match(
    fromIni.warnings[0] ?? '',
    /^--cloud-config .*cloud\.conf: not (valid YAML at line \d+, column \d+ \([A-Z_]+\) \(an INI file\?\)|a YAML mapping); its content is ignored/,
  );
  const broken = file('broken.yaml', `host: https://r\ntoken: "${TOKEN}\n  project: [\n`);
  const out = loadOxideConfig(env, broken);
  assert.deepEqual(out.errors, []);
  assert.match(out.warnings[0] ?? '', /broken\.yaml: not valid YAML at line \d+/);
  for (const r of [keys, fromIni, out]) assert.ok(!r.warnings.join('\n').includes(TOKEN));
  // Without env the ignored token still leaves the token unset: that is an error, as without a file.
  assert.deepEqual(loadOxideConfig({ OXIDE_PROJECT: 'k8s' }, cfg).errors, [
    'Oxide token is not set: set OXIDE_TOKEN or OXIDE_TOKEN_FILE (or OXIDE_PROFILE, or token in --cloud-config)',
  ]);
  // A file that cannot be read fails, as upstream fails to open it.
  const missing = loadOxideConfig(env, join(dir, 'absent.yaml')).errors;
  assert.equal(missing[0], `--cloud-config: cannot read ${join(dir, 'absent.yaml')} (ENOENT)`);
});

test('a cloud-config token with an unknown YAML tag: no warning printed with its line', async (t) => {
  // yaml's parse() prints such a warning itself, code frame (the token's line) included.
  const warnings: unknown[] = [];
  const onWarning = (w: unknown): number => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const tagged = file('tagged.yaml', `host: https://r\ntoken: !vault ${TOKEN}\nproject: k8s\n`);
  const out = loadOxideConfig({}, tagged);
  assert.deepEqual(out.errors, []);
  // process.emitWarning delivers on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(warnings, []);
});

test('validation: one line per problem, never the token', () => {
  const { errors } = loadOxideConfig(
    { OXIDE_HOST: 'ftp://rack', OXIDE_TOKEN: `${TOKEN} x`, OXIDE_PROJECT: 'Bad_Name' },
    '',
  );
  assert.deepEqual(errors, [
    'Oxide host from OXIDE_HOST must use http:// or https://, not ftp://',
    'Oxide token from OXIDE_TOKEN contains whitespace; check the Secret',
    'Oxide project "Bad_Name" from OXIDE_PROJECT is neither an Oxide name nor an id',
  ]);
  assert.deepEqual(loadOxideConfig({}, '').errors, [
    'Oxide host is not set: set OXIDE_HOST (or OXIDE_PROFILE, or host in --cloud-config)',
    'Oxide token is not set: set OXIDE_TOKEN or OXIDE_TOKEN_FILE (or OXIDE_PROFILE, or token in --cloud-config)',
    'Oxide project is not set: set OXIDE_PROJECT (or project in --cloud-config)',
  ]);
  const ca = loadOxideConfig(
    {
      OXIDE_HOST: 'https://r',
      OXIDE_TOKEN: TOKEN,
      OXIDE_PROJECT: '5b0e2b2a-3c1f-4f61-9a42-7d1e0c9f8a11',
      OXIDE_CA_CERT_FILE: file('notpem', 'hello'),
    },
    '',
  );
  assert.deepEqual(ca.errors, [
    `CA bundle OXIDE_CA_CERT_FILE ${join(dir, 'notpem')} contains no PEM certificate`,
  ]);
});

test('host shapes', () => {
  assert.deepEqual(normalizeHost('http://127.0.0.1:12220'), { host: 'http://127.0.0.1:12220' });
  assert.deepEqual(normalizeHost('https://rack.example.com/'), {
    host: 'https://rack.example.com',
  });
  assert.match(normalizeHost('https://rack.example.com/v1').problem ?? '', /must not have a path/);
  assert.match(normalizeHost('https://rack.example.com?x=1').problem ?? '', /must not have a path/);
  assert.match(normalizeHost('https://user:pw@rack').problem ?? '', /user information/);
  assert.match(normalizeHost('https://exa mple').problem ?? '', /is not a URL/);
  // A host no DNS can hold is refused with its length, not echoed (it would be a 20 MB line).
  const huge = normalizeHost(`https://${'a'.repeat(20_000_000)}.example`).problem ?? '';
  assert.equal(huge, 'is not a host name: 20000008 characters (DNS allows 253, 63 per label)');
  assert.match(normalizeHost(`${'a'.repeat(64)}.example`).problem ?? '', /63 per label/);
  assert.equal(normalizeHost(`${'a'.repeat(63)}.example`).problem, undefined);
  assert.ok((normalizeHost(`https://rack/${'p'.repeat(100_000)}`).problem ?? '').length < 200);
});

test('several projects: --oxide-projects, or a comma-separated OXIDE_PROJECT; the default first', () => {
  const env = { OXIDE_HOST: 'https://r', OXIDE_TOKEN: TOKEN };
  const flag = loadOxideConfig(env, '', ['a', 'b']);
  assert.deepEqual(flag.errors, []);
  assert.equal(flag.settings?.project, 'a');
  assert.deepEqual(flag.settings?.projects, ['a', 'b']);
  const list = loadOxideConfig({ ...env, OXIDE_PROJECT: ' a, b ,' }, '');
  assert.deepEqual(list.errors, []);
  assert.deepEqual(list.settings?.projects, ['a', 'b']);
  assert.equal(list.settings?.project, 'a');
  // The flag wins, but the Secret's project stays the default: existing floating IPs are there.
  const agree = loadOxideConfig({ ...env, OXIDE_PROJECT: 'a' }, '', ['a', 'b']);
  assert.deepEqual(agree.settings?.projects, ['a', 'b']);
  assert.deepEqual(loadOxideConfig({ ...env, OXIDE_PROJECT: 'b' }, '', ['a', 'b']).errors, [
    '--oxide-projects starts with "a" but OXIDE_PROJECT names "b": the default project must be the same in both (existing floating IPs live there); put it first in --oxide-projects',
  ]);
  assert.deepEqual(loadOxideConfig(env, '', ['a', 'Bad_Name', 'a']).errors, [
    'Oxide project "Bad_Name" from --oxide-projects is neither an Oxide name nor an id',
    'Oxide project "a" is listed twice in --oxide-projects',
  ]);
});
