// YAML files that hold secrets (a kubeconfig's token, client-key-data or password; a
// cloud-config's Oxide token) are parsed here, so that a broken file is reported by position only.
// The yaml library's messages quote the offending lines (a code frame), and a few quote source text
// even without one (tags, alias names): none of its message text reaches a log or an error.
import { parseDocument } from 'yaml';

export type ParsedYaml = { value: unknown } | { problem: string };

/**
 * The file's value, or why it is not YAML as one line: `not valid YAML at line 3, column 12
 * (MISSING_CHAR)`, the position and the library's error code, never the text. Warnings (unknown
 * tags and the like) are dropped rather than printed, as `parse` would print them.
 */
export function parseYamlQuietly(text: string): ParsedYaml {
  const doc = parseDocument(text, { prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    return { problem: `not valid YAML${where} (${first.code})` };
  }
  try {
    return { value: doc.toJS() };
  } catch {
    // Unresolved or runaway aliases: the library's message names them, which is file text.
    return { problem: 'not valid YAML (an alias cannot be resolved)' };
  }
}
