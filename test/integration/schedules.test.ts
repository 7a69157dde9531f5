import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';
import { MISSED_AFTER_MS } from '../../src/saga/schedules/fire-time.js';
import { fireKey } from '../../src/saga/schedules/saga-scheduler.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ScheduleItem {
  id: string;
  saga: string;
  cron: string;
  timezone: string;
  nextFireAt: string;
  lastFireAt?: string;
  lastSagaId?: string;
}

/**
 * The `ticker` fixture's schedule fires every second. Real worker processes fire it while one is
 * SIGKILLed, Redis is wiped, and all of them are stopped for a while: each fire time starts one
 * saga, no second is missing while a worker runs, and the seconds missed while none ran start once,
 * for the latest of them.
 */
describe('cron schedules across worker processes', () => {
  let t: TestEnvironment;
  const processes: AppProcess[] = [];

  before(async () => {
    t = await createTestEnvironment();
  });
  after(async () => {
    await killAll(processes);
    await t.destroy();
  });

  async function start(role: 'api' | 'worker'): Promise<AppProcess> {
    const p = await AppProcess.start({
      role,
      name: `${role}-${processes.length + 1}`,
      env: { ...t.env, TEST_SAGA_MODULES: 'scheduled', LOG_LEVEL: 'log', LOCK_DURATION_MS: '2000' },
    });
    processes.push(p);
    return p;
  }

  /** The ticker sagas the every-second schedule started, by fire time, as Postgres holds them. */
  async function fires(): Promise<{ fireAt: number; id: string; key: string; status: string }[]> {
    const rows = await t.sql<{ id: string; key: string; status: string }[]>`
      SELECT id, idempotency_key AS key, status FROM sagas WHERE name = 'ticker' ORDER BY idempotency_key`;
    return rows.map((r) => ({ ...r, fireAt: Date.parse(r.key.slice('schedule:every-second:'.length)) }));
  }

  function assertEverySecond(times: number[], what: string): void {
    for (let i = 1; i < times.length; i++) {
      assert.equal(
        times[i] - times[i - 1],
        1000,
        `${what}: ${new Date(times[i - 1]).toISOString()} → ${new Date(times[i]).toISOString()}`,
      );
    }
  }

  it('fires each second once with 2 workers, through a SIGKILL and a Redis wipe; missed seconds start once, for the latest', async () => {
    try {
      const api = await start('api');
      const [w1] = [await start('worker'), await start('worker')];
      await sleep(3000);
      w1.kill('SIGKILL');
      await w1.exited;
      await wipeRedisPrefix(t.redis, t.queuePrefix);
      await sleep(3000);

      const live = await fires();
      assert.ok(live.length >= 5, `${live.length} fires in 6 s`);
      assert.ok(live.every((f) => f.key === fireKey('every-second', new Date(f.fireAt))));
      assertEverySecond(
        live.map((f) => f.fireAt),
        'while a worker ran',
      );

      // Every worker stopped for longer than a late worker could be, then one starts again.
      await Promise.all(
        processes.filter((p) => p.role === 'worker' && p.running).map((p) => p.stop('SIGTERM')),
      );
      const lastBefore = (await fires()).at(-1)!.fireAt;
      await sleep(MISSED_AFTER_MS + 3000);
      const restartAt = Date.now();
      await start('worker');
      const after = await waitFor(async () => {
        const all = await fires();
        return all.filter((f) => f.fireAt > lastBefore).length >= 3 ? all : undefined;
      });
      const [catchUp, ...next] = after.filter((f) => f.fireAt > lastBefore);
      // One fire for the seconds missed: the latest at the restart, none of the earlier ones.
      assert.ok(
        catchUp.fireAt - lastBefore >= MISSED_AFTER_MS + 2000,
        `caught up ${new Date(catchUp.fireAt).toISOString()} after ${new Date(lastBefore).toISOString()}`,
      );
      assert.ok(
        catchUp.fireAt >= restartAt - 1000,
        `caught up for ${new Date(catchUp.fireAt).toISOString()}, restarted at ${new Date(restartAt).toISOString()}`,
      );
      assertEverySecond(
        [catchUp, ...next].map((f) => f.fireAt),
        'after the restart',
      );

      // Each fire started an ordinary saga, which completes (the wiped jobs were re-driven).
      await waitFor(async () => ((await fires()).every((f) => f.status === 'completed') ? true : undefined), {
        what: 'every ticker saga to complete',
      });

      const listed = await api.http.get<{ items: ScheduleItem[] }>('/schedules');
      assert.equal(listed.status, 200);
      const [second, monday] = listed.body.items;
      assert.deepEqual(Object.keys(listed.body), ['items']);
      assert.deepEqual(
        { ...monday, nextFireAt: undefined },
        {
          id: 'monday-morning',
          saga: 'ticker',
          cron: '0 9 * * 1',
          timezone: 'Europe/Paris',
          nextFireAt: undefined,
        },
      );
      const mondayNext = new Date(monday.nextFireAt);
      assert.equal(mondayNext.getUTCDay(), 1);
      assert.ok([7, 8].includes(mondayNext.getUTCHours()), `9:00 in Paris is ${monday.nextFireAt}`);
      assert.equal(second.id, 'every-second');
      assert.equal(second.cron, '* * * * * *');
      assert.equal(second.timezone, 'UTC');
      const [last] = await t.sql`SELECT idempotency_key AS key FROM sagas WHERE id = ${second.lastSagaId!}`;
      assert.equal(last.key, fireKey('every-second', new Date(second.lastFireAt!)));
      assert.ok(Date.parse(second.nextFireAt) > Date.parse(second.lastFireAt!));

      const metrics = await api.http.get('/metrics');
      const all = await fires();
      assert.match(
        metrics.text,
        /saga_schedule_last_fire_timestamp_seconds\{schedule="every-second",saga="ticker"\} \d+/,
      );
      const counted = /saga_schedule_fires\{schedule="every-second",saga="ticker"\} (\d+)/.exec(metrics.text);
      assert.ok(
        counted && Number(counted[1]) >= all.length - 1 && Number(counted[1]) <= all.length,
        metrics.text,
      );
    } catch (error) {
      for (const p of processes) console.error(p.describe());
      throw error;
    }
  });
});
