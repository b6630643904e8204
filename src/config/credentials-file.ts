// Reads the Oxide CLI's credentials.toml, the file `oxide auth login` writes:
//   [profile.NAME]
//   host = "https://rack.example.com"
//   token = "oxide-token-…"
//   user = "…"
// Only that subset of TOML is understood (tables, string values, comments); it is all the file
// holds, and a full TOML parser would be a dependency for one file. The Go SDK reads the same
// file for its Profile option, which the Go CCM exposes as OXIDE_PROFILE.
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ProfileCredentials {
  host?: string;
  token?: string;
}

/** $OXIDE_CONFIG_DIR, else ~/.config/oxide, as the Oxide CLI uses. */
export function credentialsPath(env: NodeJS.ProcessEnv): string {
  const dir = env['OXIDE_CONFIG_DIR'] || join(homedir(), '.config', 'oxide');
  return join(dir, 'credentials.toml');
}

function unquoteKey(key: string): string {
  const k = key.trim();
  if (k.length >= 2 && (k.startsWith('"') || k.startsWith("'")) && k.endsWith(k[0] ?? ''))
    return k.slice(1, -1);
  return k;
}

/** Splits a dotted table name, respecting quotes: profile."a.b" → ['profile', 'a.b']. */
function splitDotted(name: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote = '';
  for (const ch of name) {
    if (quote !== '') {
      if (ch === quote) quote = '';
      current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === '.') {
      parts.push(unquoteKey(current));
      current = '';
    } else current += ch;
  }
  parts.push(unquoteKey(current));
  return parts;
}

const ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  '"': '"',
  '\\': '\\',
};

/** A basic ("…") or literal ('…') string at the start of text; undefined for other values. */
function readString(text: string): string | undefined {
  if (text.startsWith("'")) {
    const end = text.indexOf("'", 1);
    return end > 0 ? text.slice(1, end) : undefined;
  }
  if (!text.startsWith('"')) return undefined;
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '"') return out;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = text[++i] ?? '';
    if (next === 'u' || next === 'U') {
      const len = next === 'u' ? 4 : 8;
      out += String.fromCodePoint(parseInt(text.slice(i + 1, i + 1 + len), 16));
      i += len;
    } else out += ESCAPES[next] ?? next;
  }
  return undefined;
}

/** Profiles by name. Keys other than host and token, and non-string values, are skipped. */
export function parseCredentials(text: string): Map<string, ProfileCredentials> {
  const profiles = new Map<string, ProfileCredentials>();
  let current: ProfileCredentials | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      const close = line.lastIndexOf(']');
      const parts = splitDotted(line.slice(1, close));
      if (parts.length === 2 && parts[0] === 'profile') {
        const name = parts[1] ?? '';
        current = profiles.get(name) ?? {};
        profiles.set(name, current);
      } else current = undefined;
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) continue;
    const key = unquoteKey(line.slice(0, eq));
    const value = readString(line.slice(eq + 1).trim());
    if (value === undefined) continue;
    if (key === 'host') current.host = value;
    else if (key === 'token') current.token = value;
  }
  return profiles;
}
