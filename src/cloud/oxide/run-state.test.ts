import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isServing, isShutdown } from './run-state.ts';

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

describe('isServing', () => {
  it('only running and migrating instances carry load-balancer traffic', () => {
    for (const s of ['running', 'migrating'] as const) assert.equal(isServing(s), true, s);
    for (const s of [
      'creating',
      'starting',
      'stopping',
      'stopped',
      'rebooting',
      'repairing',
      'failed',
      'destroyed',
    ] as const) {
      assert.equal(isServing(s), false, s);
    }
  });
});
