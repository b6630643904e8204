import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OxideError } from './errors.ts';
import { backoffDelay, RetryBudget, withRetry } from './retry.ts';
import type { RetryOptions } from './retry.ts';

const fast: RetryOptions = { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 4, maxRetryAfterMs: 50 };
const err = (kind: OxideError['kind']) =>
  new OxideError(kind, { kind, operation: 'op', status: 0 });

describe('withRetry', () => {
  it('retries retryable failures and returns the eventual success', async () => {
    let calls = 0;
    const value = await withRetry(async () => {
      calls += 1;
      if (calls < 3) throw err(calls === 1 ? 'retryable' : 'unavailable');
      return 'ok';
    }, fast);
    assert.equal(value, 'ok');
    assert.equal(calls, 3);
  });

  it('gives up after maxRetries', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls += 1;
        throw err('retryable');
      }, fast),
      /retryable/,
    );
    assert.equal(calls, 4);
  });

  for (const kind of ['not_found', 'already_exists', 'invalid', 'auth', 'conflict'] as const) {
    it(`does not retry ${kind}`, async () => {
      let calls = 0;
      await assert.rejects(
        withRetry(async () => {
          calls += 1;
          throw err(kind);
        }, fast),
      );
      assert.equal(calls, 1);
    });
  }
});

describe('RetryBudget', () => {
  it('a shared budget stops all retries during an outage and refills on successes', async () => {
    const budget = new RetryBudget(10, 0.5);
    let attempts = 0;
    const failing = () =>
      withRetry(
        async () => {
          attempts += 1;
          throw err('unavailable');
        },
        { ...fast, budget },
      );
    // 4 retries fit in the first call (tokens 10 → 6), then only the first attempt of each call.
    await assert.rejects(failing());
    assert.equal(attempts, 4);
    attempts = 0;
    await Promise.all([failing(), failing(), failing()].map((p) => assert.rejects(p)));
    assert.equal(attempts, 3, 'no retries once the budget is spent');
    assert.equal(budget.allowsRetry(), false);
    for (let i = 0; i < 20; i++) await withRetry(async () => 'ok', { ...fast, budget });
    assert.equal(budget.allowsRetry(), true, 'successes earn the budget back');
  });
});

describe('backoffDelay', () => {
  it('is full jitter under a capped exponential ceiling', () => {
    const opts = { ...fast, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999 };
    assert.equal(backoffDelay(0, opts), 99);
    assert.equal(backoffDelay(2, opts), 399);
    assert.equal(backoffDelay(10, opts), 999);
    assert.equal(backoffDelay(0, { ...opts, random: () => 0 }), 0);
  });
  it('honours Retry-After up to a cap', () => {
    assert.equal(backoffDelay(0, fast, 20), 20);
    assert.equal(backoffDelay(0, fast, 60_000), 50);
  });
});
