import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchResults } from '../../bench/bench-results.js';

const BENCH_JS = fileURLToPath(new URL('../../bench/bench.js', import.meta.url));

/** `npm run bench` in miniature, so that the benchmark keeps working; it asserts no timing. */
describe('npm run bench (smoke run)', () => {
  let dir: string | undefined;
  after(() => dir && rm(dir, { recursive: true, force: true }));

  it('measures the engine (three shapes, and one per key), plain BullMQ and POST latency in both deployments, and writes what it printed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'saga-bench-'));
    const out = join(dir, 'results.json');
    const flags = ['--n', '60', '--warmup', '10', '--rounds', '1', '--handoff-n', '5', '--rates', '40'];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [BENCH_JS, ...flags, '--seconds', '1', '--json', '--out', out],
      { maxBuffer: 16 * 2 ** 20 },
    );
    const printed = JSON.parse(stdout) as BenchResults;
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), printed);

    for (const run of [printed.engine!, printed.baseline!]) {
      assert.equal(run.sagas, 60);
      assert.equal(run.steps, 180);
      assert.deepEqual(run.unexpected, {}, 'every saga completed');
      assert.equal(run.transitionMs.count, 120, 'two hand-offs per saga were timed');
    }
    // A parallel group has no step→step; the child saga's three: parent → child step → child's two.
    const shapes = [
      [printed.engine!, 'linear', 120],
      [printed.parallel!, 'parallel', 0],
      [printed.child!, 'child', 180],
    ] as const;
    for (const [run, shape, handoffs] of shapes) {
      assert.equal(run.shape, shape);
      assert.equal(run.sagas, 60);
      assert.equal(run.steps, 180);
      assert.deepEqual(run.unexpected, {}, `every ${shape} saga completed`);
      assert.equal(run.transitionMs.count, handoffs, `${shape}: hand-offs timed`);
      assert.equal(run.startToEndMs!.count, 60, `${shape}: start→end of every saga`);
      assert.equal(printed.handoff![shape === 'linear' ? 'engine' : shape]!.sagas, 5);
      assert.ok(printed.costPerSaga![shape]!.postgresTransactions > 0, shape);
    }
    for (const [run, shape] of [
      [printed.keyed!.keys100!, 'keyed100'],
      [printed.keyed!.keys1!, 'keyed1'],
    ] as const) {
      assert.equal(run.shape, shape);
      assert.equal(run.sagas, 60);
      assert.deepEqual(run.unexpected, {}, `every ${shape} saga completed`);
      assert.equal(run.transitionMs.count, 120, `${shape}: hand-offs timed`);
    }
    assert.equal(printed.parallel!.groupSpreadMs!.count, 60);
    assert.equal(printed.child!.handlersPerSaga, 4);
    assert.ok(printed.ratio!.throughput > 0);
    const cost = printed.costPerStepTransition!;
    assert.ok(
      cost.postgresTransactions > 0 && cost.postgresTransactions <= 1,
      `${cost.postgresTransactions}`,
    );
    assert.deepEqual(
      printed.startLatency!.map((l) => [l.deployment, l.statusCodes, l.errors, l.timeouts]),
      [
        ['one process, SAGA_ROLE=all', { '202': 40 }, 0, 0],
        ['API + worker process', { '202': 40 }, 0, 0],
      ],
    );
  });
});
