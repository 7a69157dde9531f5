import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { SagaView } from '../../src/saga/index.js';
import type { AppProcess } from '../support/app-process.js';
import type { ScriptInput } from '../support/fixtures/scripted.saga.js';
import { stepRunning, waitForSaga } from '../support/sagas.js';
import { processTests } from '../support/process-tests.js';
import { waitFor } from '../support/wait.js';

/**
 * Real faults to real processes: each test spawns application processes (test/support/app-process.main.ts,
 * the real server with the order and scripted sagas) on its own database and BullMQ prefix, and
 * stops them with SIGTERM or SIGKILL while a step of the scripted saga runs (`slow`, held for
 * `HELD_MS`: long enough that a loaded machine signals the process before the step is over).
 */
const HELD_MS = 2000;

describe('process lifecycle: SIGTERM, SIGKILL and roles', () => {
  const suite = processTests({ LOG_LEVEL: 'log', LOCK_DURATION_MS: '2000' });
  const { start, scenario } = suite;

  async function run(api: AppProcess, script: ScriptInput['script']): Promise<string> {
    const started = await api.http.post('/sagas/scripted', { script, slowMs: HELD_MS });
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  async function sagaRow(id: string) {
    const [row] = await suite.t.sql`SELECT status FROM sagas WHERE id = ${id}`;
    return row;
  }

  async function steps(id: string) {
    return suite.t.sql<{ name: string; status: string; attempts: number }[]>`
      SELECT name, status, attempts FROM saga_units WHERE saga_id = ${id} AND kind = 'step' ORDER BY step_index`;
  }

  /** How often each step was claimed (= how often its handler was called) and completed, from saga_events. */
  async function eventCounts(id: string): Promise<Record<string, { started: number; completed: number }>> {
    const rows = await suite.t.sql<{ step: string; type: string; count: number }[]>`
      SELECT step, type, count(*)::int AS count FROM saga_events
      WHERE saga_id = ${id} AND type IN ('step_started', 'step_completed') GROUP BY step, type`;
    const counts: Record<string, { started: number; completed: number }> = {};
    for (const { step, type, count } of rows) {
      counts[step] ??= { started: 0, completed: 0 };
      counts[step][type === 'step_started' ? 'started' : 'completed'] = count;
    }
    return counts;
  }

  function waitForStatus(id: string, status: string, timeoutMs = 20_000) {
    return waitFor(async () => ((await sagaRow(id))?.status === status ? true : undefined), {
      timeoutMs,
      what: `saga ${id} to be ${status}`,
    });
  }

  scenario(
    'SIGTERM during a step lets it finish and record, exits 0, and a new worker completes the saga',
    async () => {
      const first = await start('all');
      const id = await run(first, { b: ['slow'] });
      await stepRunning(suite.t, id, 'b');

      const exit = await first.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, first.describe());

      // The in-flight attempt of b finished and was recorded before the process exited. Its commit
      // claimed c's first attempt, whose job waits in Redis: the closing worker took no further unit.
      assert.deepEqual(
        (await steps(id)).map((s) => [s.name, s.status, s.attempts]),
        [
          ['a', 'completed', 1],
          ['b', 'completed', 1],
          ['c', 'running', 1],
          ['d', 'pending', 0],
        ],
      );
      const stopped = await sagaRow(id);
      assert.equal(stopped.status, 'running');
      // Every unit's job has its saga's priority: BullMQ keeps it in the prioritized set.
      const [waiting] = await suite.t.redis.zrange(
        `${suite.t.queuePrefix}:saga-units:prioritized`,
        '0',
        '-1',
      );
      assert.equal(waiting, `${id}-s2-1`);

      await start('worker');
      await waitForStatus(id, 'completed');
      assert.deepEqual(
        (await steps(id)).map((s) => [s.name, s.status, s.attempts]),
        [
          ['a', 'completed', 1],
          ['b', 'completed', 1],
          ['c', 'completed', 1],
          ['d', 'completed', 1],
        ],
      );
      // Every handler ran once: no step was claimed again after its completion was recorded.
      assert.deepEqual(await eventCounts(id), {
        a: { started: 1, completed: 1 },
        b: { started: 1, completed: 1 },
        c: { started: 1, completed: 1 },
        d: { started: 1, completed: 1 },
      });
    },
  );

  scenario(
    'SIGTERM with a grace period shorter than the step aborts and releases the attempt, exits 0, and the step is retried',
    async () => {
      const first = await start('all', { SHUTDOWN_GRACE_MS: '100' });
      const id = await run(first, { b: ['slow'] });
      await stepRunning(suite.t, id, 'b');

      const stopping = Date.now();
      const exit = await first.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, first.describe());
      assert.ok(Date.now() - stopping < 8000, `took ${Date.now() - stopping} ms to stop`);

      // The aborted attempt is recorded as a retryable failure with its retry scheduled, not left claimed.
      const [b] = await suite.t
        .sql`SELECT status, attempts, error, due_at FROM saga_units WHERE saga_id = ${id} AND key = 's1'`;
      assert.equal(b.status, 'pending');
      assert.equal(b.attempts, 1);
      assert.equal(b.error?.name, 'WorkerShutdownError');
      assert.ok(b.due_at, 'its retry is scheduled');

      await start('worker');
      await waitForStatus(id, 'completed');
      assert.deepEqual(
        (await steps(id)).map((s) => [s.name, s.status, s.attempts]),
        [
          ['a', 'completed', 1],
          ['b', 'completed', 2],
          ['c', 'completed', 1],
          ['d', 'completed', 1],
        ],
      );
      assert.deepEqual(await eventCounts(id), {
        a: { started: 1, completed: 1 },
        b: { started: 2, completed: 1 },
        c: { started: 1, completed: 1 },
        d: { started: 1, completed: 1 },
      });
    },
  );

  scenario(
    'SIGKILL during a step: another worker takes the stalled job over, counts the attempt, and completes the saga',
    async () => {
      const api = await start('api');
      const doomed = await start('worker');
      const id = await run(api, { b: ['slow'] });
      await stepRunning(suite.t, id, 'b');

      doomed.kill('SIGKILL');
      assert.deepEqual(await doomed.exited, { code: null, signal: 'SIGKILL' });
      const killedAt = Date.now();

      // The killed worker's attempt stays claimed until its BullMQ lock (2 s) expires.
      assert.equal((await steps(id))[1].status, 'running');
      await start('worker');
      const saga = await waitForSaga(api.http, id, ['completed', 'compensated', 'failed'], 30_000);
      const recoveredInMs = Date.now() - killedAt;
      assert.equal(saga.status, 'completed', JSON.stringify(saga));
      assert.deepEqual(
        saga.steps!.map((s) => [s.name, s.status, s.attempts]),
        [
          ['a', 'completed', 1],
          ['b', 'completed', 2],
          ['c', 'completed', 1],
          ['d', 'completed', 1],
        ],
      );
      assert.deepEqual(await eventCounts(id), {
        a: { started: 1, completed: 1 },
        b: { started: 2, completed: 1 },
        c: { started: 1, completed: 1 },
        d: { started: 1, completed: 1 },
      });
      assert.ok(recoveredInMs < 20_000, `recovered ${recoveredInMs} ms after the kill`);
    },
  );

  scenario(
    'roles: an api process runs no steps, a worker serves only /health and /metrics, together they complete sagas',
    async () => {
      const api = await start('api');
      const id = await run(api, {});
      // Several reconcile intervals: nothing in an api process runs the saga.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal((await sagaRow(id)).status, 'pending');
      assert.deepEqual(
        (await steps(id)).map((s) => [s.status, s.attempts]),
        [
          ['pending', 0],
          ['pending', 0],
          ['pending', 0],
          ['pending', 0],
        ],
      );
      assert.equal((await api.http.get<SagaView>(`/sagas/${id}`)).body.status, 'pending');

      const worker = await start('worker');
      const health = await worker.http.get('/health');
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok', postgres: 'up', redis: 'up' });
      const metrics = await worker.http.get('/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /^# HELP saga_/m);
      for (const [method, path] of [
        ['GET', `/sagas/${id}`],
        ['GET', '/sagas'],
        ['GET', `/sagas/${id}/events`],
        ['POST', '/sagas/scripted'],
        ['POST', `/sagas/${id}/cancel`],
      ]) {
        const response = await worker.http.request(method, path, method === 'POST' ? { json: {} } : {});
        assert.equal(
          response.status,
          404,
          `${method} ${path} on a worker: ${response.status} ${response.text}`,
        );
      }

      // The saga started before any worker existed, and one started now, both complete.
      const later = await run(api, { c: ['fail', 'ok'] });
      for (const sagaId of [id, later]) {
        const saga = await waitForSaga(api.http, sagaId);
        assert.equal(saga.status, 'completed', JSON.stringify(saga));
      }
      assert.equal((await api.http.get('/health')).status, 200);
    },
  );
});
