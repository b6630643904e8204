import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareNames } from './compare.ts';

describe('compareNames', () => {
  it('orders Kubernetes and Oxide names as the ICU collator did', () => {
    const names = ['node-10', 'node-1', 'node.b', 'node-2', 'a', 'node1', 'node-1.x', 'z0', '0z'];
    assert.deepEqual(
      [...names].sort(compareNames),
      [...names].sort((a, b) => a.localeCompare(b, 'en')),
    );
  });

  it('is code-unit order where the collator would differ (case, separators)', () => {
    assert.deepEqual(['b', 'B', 'a_b', 'a:b'].sort(compareNames), ['B', 'a:b', 'a_b', 'b']);
    assert.equal(compareNames('x', 'x'), 0);
  });
});
