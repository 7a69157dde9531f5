import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// The dashboard's own module, as the browser loads it (plain JavaScript served from src/).
const FORMAT = new URL('../../../src/saga/dashboard/public/format.js', import.meta.url).href;
const { duration, plural } = (await import(FORMAT)) as {
  duration: (ms: number | null | undefined) => string;
  plural: (count: number, word: string) => string;
};

describe('dashboard: duration', () => {
  it('says a span as a person does', () => {
    const cases: [number, string][] = [
      [0, '0 ms'],
      [340.4, '340 ms'],
      [999.4, '999 ms'],
      [999.6, '1 s'],
      [1000, '1 s'],
      [2500, '2.5 s'],
      [2345, '2.35 s'],
      [10_000, '10 s'],
      [18_140, '18.1 s'],
      [59_940, '59.9 s'],
      [59_960, '1 min'],
      [60_000, '1 min'],
      [90_000, '1 min 30 s'],
      [3_600_000, '1 h'],
      [3_605_000, '1 h'],
      [7_500_000, '2 h 5 min'],
      [86_400_000, '1 d'],
      [7 * 86_400_000, '7 d'],
      [90_000_000, '1 d 1 h'],
    ];
    // A number and its unit are joined by a no-break space.
    for (const [ms, text] of cases)
      assert.equal(duration(ms), text.replace(/(\d) /g, '$1\u00a0'), `${ms} ms`);
  });

  it('says nothing of no span', () => {
    assert.equal(duration(undefined), '');
    assert.equal(duration(null), '');
    assert.equal(duration(Number.NaN), '');
  });
});

describe('dashboard: plural', () => {
  it('counts a word', () => {
    assert.equal(plural(1, 'attempt'), '1 attempt');
    assert.equal(plural(2, 'attempt'), '2 attempts');
    assert.equal(plural(0, 'attempt'), '0 attempts');
  });
});
