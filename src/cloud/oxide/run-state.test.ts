import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isShutdown } from './run-state.ts';

describe('isShutdown', () => {
  it('stopped, failed and destroyed are shut down; transitional and running states are not', () => {
    for (const s of ['stopped', 'failed', 'destroyed'] as const)
      assert.equal(isShutdown(s), true, s);
    for (const s of [
      'creating',
      'starting',
      'running',
      'stopping',
      'rebooting',
      'migrating',
      'repairing',
    ] as const) {
      assert.equal(isShutdown(s), false, s);
    }
  });
});
