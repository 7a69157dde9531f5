import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROGRESS_INTERVAL_MS, ProgressReporter } from '../../src/saga/execution/progress-reporter.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A reporter whose writes take `writeMs` and are recorded in order. */
function reporter(writeMs = 5) {
  const written: unknown[] = [];
  const errors: string[] = [];
  let fail = false;
  const progress = new ProgressReporter(
    async (value) => {
      await sleep(writeMs);
      if (fail) throw new Error('Postgres is down');
      written.push(value);
    },
    (error) => errors.push(error.message),
  );
  return { progress, written, errors, failWrites: () => (fail = true) };
}

describe('ProgressReporter: what a running attempt reports, written in the background', () => {
  it('writes the first report at once, then at most one per interval, the latest winning', async () => {
    const { progress, written } = reporter();
    for (let i = 1; i <= 100; i++) progress.report(i);
    await sleep(20);
    assert.deepEqual(written, [1]);
    await sleep(PROGRESS_INTERVAL_MS + 20);
    assert.deepEqual(written, [1, 100]);
  });

  it('flush writes what is pending at once; reports after it are dropped', async () => {
    const { progress, written } = reporter();
    progress.report(10);
    progress.report({ phase: 'b' });
    await progress.flush();
    assert.deepEqual(written, [10, { phase: 'b' }]);
    progress.report(99);
    await sleep(PROGRESS_INTERVAL_MS + 20);
    assert.deepEqual(written, [10, { phase: 'b' }]);
  });

  it('a failed write is reported to its handler and does not throw from flush', async () => {
    const { progress, written, errors, failWrites } = reporter();
    failWrites();
    progress.report(5);
    await progress.flush();
    assert.deepEqual(written, []);
    assert.deepEqual(errors, ['Postgres is down']);
  });

  it('a flush without reports writes nothing', async () => {
    const { progress, written } = reporter();
    await progress.flush();
    assert.deepEqual(written, []);
  });
});
