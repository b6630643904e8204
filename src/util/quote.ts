// What a user wrote, as it may be echoed back in an event, an error or a log line. Annotations,
// flags and settings are untrusted and unbounded (an annotation value may be 256 KiB, an
// environment variable megabytes): echoed whole, one bad value becomes a 100 KB Event in etcd or
// a 20 MB log line. Every echo of such a value goes through `quote`; `cap` bounds whole texts
// (an Event message, a log field) that may embed one anyway.

/** Characters of a user value echoed: enough to recognise it, never enough to flood. */
export const ECHO_LIMIT = 120;

/** JSON-quoted, cut to `limit` characters with the full length noted when longer. */
export function quote(value: string, limit: number = ECHO_LIMIT): string {
  if (value.length <= limit) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, limit))}… (${value.length} characters)`;
}

/** `text` cut to at most `limit` characters (note included), saying how long it was. */
export function cap(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const note = `… (cut from ${text.length} characters)`;
  return text.slice(0, Math.max(0, limit - note.length)) + note;
}
