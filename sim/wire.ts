// The wire format is snake_case JSON; @oxide/api converts keys at its boundary (camelToSnake /
// snakeToCamel in its dist/Api.js) and parses `time_*`/`*_time`/`*_expiration` strings into Dates.
// The simulator stores objects in the SDK's camelCase types and mirrors those converters exactly,
// so a stored object survives the round trip unchanged. None of the resources we serve carry
// free-form maps, so every key is converted.

const camelToSnake = (s: string): string => s.replace(/[A-Z]/g, (l) => '_' + l.toLowerCase());
const snakeToCamel = (s: string): string => s.replace(/_./g, (l) => l.charAt(1).toUpperCase());

function mapKeys(value: unknown, key: (k: string) => string): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => mapKeys(v, key));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[key(k)] = mapKeys(v, key);
  return out;
}

/** A stored (camelCase, Date-valued) object as the real API serializes it. */
export function toWire(value: unknown): unknown {
  return mapKeys(value, camelToSnake);
}

/** A request body as sent on the wire, in the SDK's camelCase shape. */
export function fromWire(value: unknown): unknown {
  return mapKeys(value, snakeToCamel);
}
