// Dropshot's pagination as Nexus uses it (PaginatedByNameOrId): `limit` (default 100, clamped at
// 10000), `sort_by`, and an opaque `page_token` that carries the scan (sort order + last key).
// Dropshot sets `next_page` whenever a page has items (dropshot issue #20), so a full scan ends
// with an empty page whose `next_page` is null; clients must not stop at a short page.
import { badInput } from './errors.ts';

export type SortBy = 'name_ascending' | 'name_descending' | 'id_ascending';
const SORTS: readonly SortBy[] = ['name_ascending', 'name_descending', 'id_ascending'];

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10000;

export interface Page<T> {
  items: T[];
  nextPage: string | null;
}

interface Token {
  v: 'sim1';
  sortBy: SortBy;
  last: string;
}

function decodeToken(raw: string): Token {
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Token>;
    if (t.v === 'sim1' && SORTS.includes(t.sortBy as SortBy) && typeof t.last === 'string') {
      return t as Token;
    }
  } catch {
    // fall through to the 400 below
  }
  throw badInput('unable to parse query string: failed to parse pagination token');
}

export function parseLimit(query: URLSearchParams): number {
  const raw = query.get('limit');
  if (raw === null) return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n === 0 || n > 0xffffffff) {
    throw badInput(`unable to parse query string: invalid value for limit: ${raw}`);
  }
  return Math.min(n, MAX_LIMIT);
}

export function paginate<T extends { id: string; name: string }>(
  all: readonly T[],
  query: URLSearchParams,
): Page<T> {
  const limit = parseLimit(query);
  const rawToken = query.get('page_token');
  let sortBy: SortBy = 'name_ascending';
  let after: string | undefined;
  if (rawToken !== null) {
    const token = decodeToken(rawToken);
    sortBy = token.sortBy;
    after = token.last;
  } else {
    const s = query.get('sort_by');
    if (s !== null) {
      if (!SORTS.includes(s as SortBy)) {
        throw badInput(`unable to parse query string: unknown variant \`${s}\` for sort_by`);
      }
      sortBy = s as SortBy;
    }
  }
  const key = (x: T): string => (sortBy === 'id_ascending' ? x.id : x.name);
  const desc = sortBy === 'name_descending';
  const sorted = [...all].sort((a, b) => {
    const d = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
    return desc ? -d : d;
  });
  const rest =
    after === undefined
      ? sorted
      : sorted.filter((x) => (desc ? key(x) < (after as string) : key(x) > (after as string)));
  const items = rest.slice(0, limit);
  const last = items.at(-1);
  const nextPage =
    last === undefined
      ? null
      : Buffer.from(
          JSON.stringify({ v: 'sim1', sortBy, last: key(last) } satisfies Token),
        ).toString('base64url');
  return { items, nextPage };
}
