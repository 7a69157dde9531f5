import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppProcess, killAll } from '../support/app-process.js';
import { ChaosScenario, isClean, type ChaosReport } from '../support/chaos-scenario.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/**
 * Invariants 2, 3 and 7 under fire: one API and two worker processes run a few hundred `order`
 * sagas while workers are SIGKILLed or stopped with SIGTERM (and replaced) and the Redis data of
 * the run is wiped. Every saga
 * must end as its card implies, with each transition and each side effect exactly once.
 * bench/chaos.ts runs the same scenario at a larger scale (and restarts Postgres).
 */
describe('chaos: killed workers and wiped Redis while sagas run', () => {
  let t: TestEnvironment;
  let scenario: ChaosScenario;
  const log: string[] = [];

  before(async () => {
    t = await createTestEnvironment();
    scenario = new ChaosScenario({
      environment: t,
      sagas: 400,
      workers: 2,
      startOverMs: 10_000,
      workerConcurrency: 20,
      lockDurationMs: 2000,
      workerKills: 4,
      workerStops: 1,
      redisWipes: 3,
      settleTimeoutMs: 60_000,
      log: (line) => log.push(`${new Date().toISOString().slice(11, 23)} ${line}`),
    });
  });

  after(async () => {
    await scenario?.dispose();
    await t?.destroy();
  });

  it('ends every saga as its card implies, with every transition and side effect exactly once', async () => {
    let report: ChaosReport | undefined;
    try {
      report = await scenario.run();
      assert.ok(isClean(report), 'the run lost, duplicated or got something wrong');
      assert.equal(report.started, 400);
      assert.equal(report.completed, 267);
      assert.equal(report.compensated, 133);
      assert.equal(report.failed, 0);
      assert.equal(report.workersKilled, 4);
      assert.equal(report.workersStopped, 1);
      assert.equal(report.redisWipes, 3);
      if (process.env.CHAOS_VERBOSE) console.log(`${log.join('\n')}\n${JSON.stringify(report)}`);
    } catch (error) {
      console.error(log.join('\n'));
      if (report) console.error(JSON.stringify(report, null, 2));
      console.error(scenario.describeProcesses());
      throw error;
    }
  });
});

/**
 * The one fault the scenario above can hit by chance, made deterministic: wiping with SCAN + DEL is
 * not atomic, so an enqueue racing it can leave a job's hash behind while its `wait` list entry is
 * deleted. BullMQ then reports the job as unknown (in no list), and adding a job with the same id
 * is a no-op because the hash exists, so the unit must still be re-enqueued somehow.
 */
describe('chaos: a partly wiped Redis', () => {
  let t: TestEnvironment;
  const processes: AppProcess[] = [];

  before(async () => {
    t = await createTestEnvironment();
  });

  after(async () => {
    await killAll(processes);
    await t?.destroy();
  });

  it('runs a unit whose job hash survived the wipe of its wait list', async () => {
    const env = { ...t.env, LOG_LEVEL: 'log', LOCK_DURATION_MS: '2000' };
    try {
      const api = await AppProcess.start({ role: 'api', name: 'api', env });
      processes.push(api);
      const started = await api.http.post('/sagas/scripted', { script: {} });
      assert.equal(started.status, 202, started.text);
      const id = started.body.id as string;
      const jobKey = `${t.queuePrefix}:saga-units:${id}-s0-1`;
      // 202 once Postgres has it; the first unit reaches Redis right after.
      await waitFor(async () => ((await t.redis.exists(jobKey)) === 1 ? true : undefined), {
        timeoutMs: 5000,
        what: 'the api process to enqueue the first unit',
      });
      // What a wipe leaves when its SCAN passed the job's hash before the job was added.
      await t.redis.del(`${t.queuePrefix}:saga-units:wait`, `${t.queuePrefix}:saga-units:marker`);

      const worker = await AppProcess.start({ role: 'worker', name: 'worker', env });
      processes.push(worker);
      await waitFor(
        async () => {
          const [row] = await t.sql`SELECT status FROM sagas WHERE id = ${id}`;
          return row.status === 'completed' ? true : undefined;
        },
        { timeoutMs: 15_000, what: `saga ${id} to complete (its job hash ${jobKey} is in no BullMQ list)` },
      );
    } catch (error) {
      for (const p of processes) console.error(p.describe());
      throw error;
    }
  });
});
