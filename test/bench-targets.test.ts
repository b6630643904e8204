// The judging of bench/targets.ts: "met" is computed from the declared limit and the measured
// value as measured, so a hand-scored table cannot creep back (docs/benchmarks.md once marked
// 2.04 as meeting "≤ 2").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLimit, formatMeasured, judge, Scorecard } from '../bench/targets.ts';

describe('bench targets', () => {
  it('compares the value as measured', () => {
    assert.equal(judge({ compare: '<=', limit: 2 }, 2.04), 'no');
    assert.equal(judge({ compare: '<=', limit: 2 }, 2), 'yes');
    assert.equal(judge({ compare: '<=', limit: 3 }, 0.4), 'yes');
    assert.equal(judge({ compare: '>=', limit: 60 }, 59.99), 'no');
    assert.equal(judge({ compare: '>=', limit: 60 }, 61), 'yes');
    assert.equal(judge({ compare: '==', limit: 0 }, 0), 'yes');
    assert.equal(judge({ compare: '==', limit: 0 }, 1), 'no');
  });

  it('no value is "not run", never met', () => {
    assert.equal(judge({ compare: '<=', limit: 2 }, undefined), 'not run');
    assert.equal(judge({ compare: '<=', limit: 2 }, NaN), 'not run');
  });

  it('shows limits and values without rounding a miss away', () => {
    assert.equal(formatLimit({ compare: '<=', limit: 90, unit: 'MiB' }), '≤ 90 MiB');
    assert.equal(formatLimit({ compare: '==', limit: 0, unit: '' }), '= 0');
    assert.equal(formatMeasured(2.0449, 'calls'), '2.045 calls');
    assert.equal(formatMeasured(undefined, 's'), '');
  });

  it('a scorecard judges every declared target and refuses undeclared ones', () => {
    const card = new Scorecard('x.bench.ts', [
      { id: 'cpu', what: 'CPU', compare: '<=', limit: 3, unit: 's' },
      { id: 'writes', what: 'writes', compare: '==', limit: 0, unit: '' },
      { id: 'rss', what: 'RSS', compare: '<=', limit: 80, unit: 'MiB' },
    ]);
    card.record('cpu', 3.2, 'loaded machine');
    card.record('writes', 0);
    card.notRun('rss', 'skipped');
    assert.throws(() => card.record('nope', 1));
    assert.deepEqual(
      card.verdicts().map((v) => [v.target.id, v.met, v.note]),
      [
        ['cpu', 'no', 'loaded machine'],
        ['writes', 'yes', ''],
        ['rss', 'not run', 'skipped'],
      ],
    );
    assert.throws(
      () =>
        new Scorecard('y', [
          { id: 'a', what: '', compare: '<=', limit: 1, unit: '' },
          { id: 'a', what: '', compare: '<=', limit: 1, unit: '' },
        ]),
    );
  });
});
