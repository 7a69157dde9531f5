import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { metric } from '../support/metrics.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/** One start or run of a handler's attempt, as Postgres recorded it. */
interface Attempt {
  sagaId: string;
  start: number;
  /** When the step completed or failed after that start (the same saga's next outcome of that step). */
  end: number | null;
}

/**
 * Issue 10, item 2: per-step concurrency and rate limits, enforced for every worker process together.
 * Three worker processes and an API process; `payment.authorize` (50 a second, 20 at once, fast) shows
 * the rate limit, the fixture `throttled.call` (the same limits, 1 s per call) the concurrency; both are
 * measured from the events the engine recorded in Postgres.
 */
describe('step limits across three worker processes', () => {
  let t: TestEnvironment;
  let api: AppProcess;
  let workers: AppProcess[] = [];

  before(async () => {
    t = await createTestEnvironment();
    const env = { ...t.env, TEST_SAGA_MODULES: 'app,scripted,throttled' };
    [api, ...workers] = await Promise.all([
      AppProcess.start({ role: 'api', name: 'api', env }),
      ...[1, 2, 3].map((n) => AppProcess.start({ role: 'worker', name: `worker-${n}`, env })),
    ]);
  });
  after(async () => {
    await killAll([api, ...workers]);
    await t?.destroy();
  });

  /** Starts `count` sagas of `name` (at `startAt`, if given), a few requests at a time; returns their ids. */
  async function startMany(
    name: string,
    count: number,
    input: (i: number) => unknown,
    startAt?: Date,
  ): Promise<string[]> {
    const path = `/sagas/${name}${startAt ? `?startAt=${startAt.toISOString()}` : ''}`;
    const ids: string[] = [];
    for (let i = 0; i < count; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, count - i) }, (_, j) => api.http.post(path, input(i + j))),
      );
      for (const response of batch) {
        assert.equal(response.status, 202, response.text);
        ids.push(response.body.id as string);
      }
    }
    return ids;
  }

  async function waitForAll(ids: string[], timeoutMs: number): Promise<void> {
    await waitFor(
      async () => {
        const [{ open }] = await t.sql<{ open: number }[]>`
          SELECT count(*)::int AS open FROM sagas WHERE id = ANY(${ids}::uuid[]) AND completed_at IS NULL`;
        return open === 0 ? true : undefined;
      },
      {
        timeoutMs,
        intervalMs: 200,
        what: `${ids.length} sagas to end\n${workers.map((w) => w.describe(2000)).join('\n')}`,
      },
    );
    const statuses = await t.sql<{ status: string; count: number }[]>`
      SELECT status, count(*)::int AS count FROM sagas WHERE id = ANY(${ids}::uuid[]) GROUP BY status`;
    assert.deepEqual(
      statuses.map((s) => ({ ...s })),
      [{ status: 'completed', count: ids.length }],
    );
  }

  /** Postgres's clock in epoch milliseconds: the one the recorded attempts are timed by. */
  async function postgresNow(): Promise<number> {
    const [{ now }] = await t.sql<{ now: number }[]>`SELECT extract(epoch FROM now()) * 1000 AS now`;
    return Number(now);
  }

  /** Every attempt of `step` of these sagas, from saga_events. */
  async function attemptsOf(ids: string[], step: string): Promise<Attempt[]> {
    const rows = await t.sql<{ saga_id: string; start: number; end: number | null }[]>`
      SELECT s.saga_id, extract(epoch FROM s.at) * 1000 AS start,
        (SELECT extract(epoch FROM e.at) * 1000 FROM saga_events e
          WHERE e.saga_id = s.saga_id AND e.step = s.step AND e.id > s.id
            AND e.type IN ('step_completed', 'step_failed')
          ORDER BY e.id LIMIT 1) AS end
      FROM saga_events s
      WHERE s.saga_id = ANY(${ids}::uuid[]) AND s.type = 'step_started' AND s.step = ${step}`;
    return rows.map((r) => ({
      sagaId: r.saga_id,
      start: Number(r.start),
      end: r.end === null ? null : Number(r.end),
    }));
  }

  it('authorize never starts more than 50 times in any second nor runs more than 20 at once, while an unlimited saga is not held back', async (ctx) => {
    // A backlog behind each limit, due all at once (however slowly a loaded machine takes the
    // requests): authorize drains at 50 a second (8 s), throttled.call at 20 per 2 s (15 s).
    const backlogAt = new Date(Date.now() + 12_000);
    const payments = await startMany(
      'payment',
      400,
      (i) => ({ paymentId: `limited-${i}`, amount: 10, card: `5${String(i).padStart(15, '0')}` }),
      backlogAt,
    );
    const throttled = await startMany('throttled', 150, () => ({ holdMs: 2000 }), backlogAt);
    await sleep(backlogAt.getTime() - Date.now());

    // While the backlog waits on the limits, operators see it, per saga and step.
    const waiting = await waitFor(
      async () => {
        const metrics = (await workers[0].http.get('/metrics')).text;
        const value = metric(metrics, 'saga_units_waiting_on_limit', {
          saga: 'payment',
          step: 'authorize',
          phase: 'step',
        });
        return value !== undefined && value > 0 ? value : undefined;
      },
      { what: 'payment.authorize units waiting on its limit in /metrics' },
    );
    assert.ok(waiting > 0);

    // An unlimited saga started behind the backlog is done long before the backlog is.
    const unlimited = await startMany('scripted', 100, () => ({}));
    await waitForAll(unlimited, 30_000);
    const [{ open }] = await t.sql<{ open: number }[]>`
      SELECT count(*)::int AS open FROM sagas WHERE id = ANY(${throttled}::uuid[]) AND completed_at IS NULL`;
    const [{ p50, slowest }] = await t.sql<{ p50: number; slowest: number }[]>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at))::float8 AS p50,
        max(extract(epoch FROM completed_at - created_at))::float8 AS slowest
      FROM sagas WHERE id = ANY(${unlimited}::uuid[])`;
    const unlimitedSeconds = `unlimited sagas took ${p50.toFixed(2)} s (median), ${slowest.toFixed(2)} s at most`;
    assert.ok(open >= throttled.length / 5, `${unlimitedSeconds}; only ${open} throttled sagas were left`);

    await waitForAll([...payments, ...throttled], 120_000);
    const authorize = await attemptsOf(payments, 'authorize');
    assert.ok(authorize.length >= payments.length);
    assert.ok(
      maxStartsWithin(authorize, 1000) <= 50,
      `${maxStartsWithin(authorize, 1000)} starts in a second`,
    );
    // It did run at its limit: 400 authorizations took about 8 s (more on a loaded machine), not less.
    const span = Math.max(...authorize.map((a) => a.start)) - Math.min(...authorize.map((a) => a.start));
    assert.ok(span >= 7_000 && span < 30_000, `400 authorizations spread over ${span} ms`);
    assert.ok(maxRunning(authorize) <= 20);

    const calls = await attemptsOf(throttled, 'call');
    assert.equal(calls.length, throttled.length);
    assert.ok(maxRunning(calls) <= 20, `${maxRunning(calls)} calls ran at once`);
    // ...and it was the concurrency that bound them: at times, 20 ran at once.
    assert.ok(maxRunning(calls) >= 15, `at most ${maxRunning(calls)} calls ran at once`);
    assert.ok(maxStartsWithin(calls, 1000) <= 50);
    ctx.diagnostic(
      `${unlimitedSeconds}, with ${open} throttled sagas left; authorize: ${maxStartsWithin(authorize, 1000)} ` +
        `starts/s at most over ${span} ms, ${maxRunning(authorize)} at once; call: ${maxRunning(calls)} at once, ` +
        `${maxStartsWithin(calls, 1000)} starts/s`,
    );
  });

  it('a Redis wipe mid-run loses no saga, and the limits hold again once the attempts running through it ended', async (ctx) => {
    const throttled = await startMany('throttled', 400, () => ({ holdMs: 400 }));
    const meta = `${t.queuePrefix}:saga-units/throttled/call:meta`;
    await waitFor(async () => ((await t.redis.hget(meta, 'concurrency')) === '20' ? true : undefined), {
      what: 'the concurrency of throttled.call in Redis',
    });
    await waitFor(
      async () => {
        const [{ done }] = await t.sql<{ done: number }[]>`
          SELECT count(*)::int AS done FROM sagas WHERE id = ANY(${throttled}::uuid[]) AND completed_at IS NOT NULL`;
        return done >= 40 ? true : undefined;
      },
      { timeoutMs: 30_000, what: 'a tenth of the sagas to end' },
    );
    const wipedAt = await postgresNow();
    assert.ok((await wipeRedisPrefix(t.redis, t.queuePrefix)) > 0);

    // The reconciler puts the concurrency back, and every unit.
    await waitFor(async () => ((await t.redis.hget(meta, 'concurrency')) === '20' ? true : undefined), {
      what: 'the concurrency of throttled.call back in Redis',
    });
    const restoredAt = await postgresNow();
    await waitForAll(throttled, 60_000);

    // Attempts that ran through the wipe were forgotten by Redis (and some redelivered): from the
    // time they are over (400 ms) and the reconciler has put everything back (a few ticks, seen
    // above), the limits hold as before.
    const settled = Math.max(wipedAt + 3000, restoredAt + 1000);
    const after = (await attemptsOf(throttled, 'call')).filter((a) => a.start >= settled);
    assert.ok(after.length >= 50, `only ${after.length} attempts started after the wipe settled`);
    assert.ok(maxRunning(after) <= 20, `${maxRunning(after)} ran at once after the wipe`);
    assert.ok(maxStartsWithin(after, 1000) <= 50, `${maxStartsWithin(after, 1000)} started in a second`);
    const all = await attemptsOf(throttled, 'call');
    ctx.diagnostic(
      `${after.length} attempts after the wipe settled: ${maxRunning(after)} at once, ` +
        `${maxStartsWithin(after, 1000)} starts/s; overall (through the wipe) ${maxRunning(all)} at once, ` +
        `${maxStartsWithin(all, 1000)} starts/s, ${all.length} attempts for ${throttled.length} sagas`,
    );
  });
});

/** The most starts within any span of `windowMs` (a start at the span's end is outside it). */
function maxStartsWithin(attempts: Attempt[], windowMs: number): number {
  const starts = attempts.map((a) => a.start).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[j] <= starts[i] - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** The most attempts running at one time; an attempt with no recorded end runs to the end of the test. */
function maxRunning(attempts: Attempt[]): number {
  const edges = attempts.flatMap((a) => [
    { at: a.start, delta: 1 },
    { at: a.end ?? Infinity, delta: -1 },
  ]);
  // An end and a start at the same instant: the end first (one handed its slot to the other).
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let most = 0;
  for (const edge of edges) {
    running += edge.delta;
    most = Math.max(most, running);
  }
  return most;
}
