// Follows `next_page` until the last page. Oxide clamps `limit` at 10000; a big page keeps a
// 1000-instance project to one request, while page tokens keep correctness for larger ones.
export interface Page<T> {
  items: T[];
  nextPage?: string | null;
}

export const DEFAULT_PAGE_SIZE = 1000;
/** The server's clamp; asking for more is harmless but says something untrue. */
export const MAX_PAGE_SIZE = 10_000;
/** A guard against a server that keeps handing out page tokens. */
const MAX_PAGES = 100_000;

export interface ListAllOptions {
  /**
   * The `limit` sent with each page. With it, a page shorter than the limit ends the scan, which
   * saves the empty last page Dropshot always ends with (it sets next_page on every non-empty
   * page). Only for collections with a small hard bound (8 NICs per instance): a server that
   * clamped pages below the limit would make a short page look final, and no Oxide server
   * clamps below dropshot's default page size of 100. Omit it to follow next_page to the end.
   */
  shortPageEnds?: number;
}

export async function listAll<T>(
  fetchPage: (pageToken: string | undefined) => Promise<Page<T>>,
  options: ListAllOptions = {},
): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const page = await fetchPage(token);
    all.push(...page.items);
    if (!page.nextPage) return all;
    if (options.shortPageEnds !== undefined && page.items.length < options.shortPageEnds) {
      return all;
    }
    if (page.nextPage === token) {
      throw new Error('pagination did not advance: same page token twice');
    }
    token = page.nextPage;
  }
  throw new Error(`pagination exceeded ${MAX_PAGES} pages`);
}
