import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listAll } from './paginate.ts';

describe('listAll', () => {
  it('follows next_page to the end, passing each token', async () => {
    const pages: Record<string, { items: number[]; nextPage?: string | null }> = {
      '': { items: [1, 2], nextPage: 'a' },
      a: { items: [3, 4], nextPage: 'b' },
      b: { items: [], nextPage: null },
    };
    const seen: (string | undefined)[] = [];
    const all = await listAll(async (token) => {
      seen.push(token);
      return pages[token ?? '']!;
    });
    assert.deepEqual(all, [1, 2, 3, 4]);
    assert.deepEqual(seen, [undefined, 'a', 'b']);
  });

  it('refuses a token that does not advance', async () => {
    await assert.rejects(
      listAll(async () => ({ items: [1], nextPage: 'same' })),
      /did not advance/,
    );
  });

  it('with shortPageEnds, a page shorter than the limit is the last one', async () => {
    const seen: (string | undefined)[] = [];
    const all = await listAll(
      async (token) => {
        seen.push(token);
        return token ? { items: [3], nextPage: 'c' } : { items: [1, 2], nextPage: 'b' };
      },
      { shortPageEnds: 2 },
    );
    assert.deepEqual(all, [1, 2, 3]);
    assert.deepEqual(seen, [undefined, 'b']);
  });
});
