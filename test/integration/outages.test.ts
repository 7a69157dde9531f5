import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OrderModule } from '../../sagas/order/order.module.js';
import { Journal, ScriptedSagaModule } from '../support/fixtures/scripted.saga.js';
import type { HttpResponse } from '../support/http-client.js';
import { orderInput, waitForSaga } from '../support/sagas.js';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const sagaModules = [OrderModule, ScriptedSagaModule];

/**
 * Calls every route of the app while Postgres is cut (DESIGN.md: 503 at once, never 500, never a
 * hang), with a real saga's id so that nothing but the outage stands in the way. /metrics answers
 * 503 too: its saga gauges come from Postgres, and a failed scrape is how Prometheus sees a target
 * that cannot report (`up == 0`), where a partial page would silently drop those series.
 */
async function assertEveryRouteUnavailable(t: TestApp, id: string): Promise<void> {
  const routes: [string, () => Promise<HttpResponse>][] = [
    ['POST /sagas/:name', () => t.http.post('/sagas/order', orderInput())],
    ['GET /sagas', () => t.http.get('/sagas')],
    ['GET /sagas/:id', () => t.http.get(`/sagas/${id}`)],
    ['GET /sagas/:id/events', () => t.http.get(`/sagas/${id}/events`)],
    ['POST /sagas/:id/cancel', () => t.http.post(`/sagas/${id}/cancel`)],
    ['POST /sagas/:id/retry', () => t.http.post(`/sagas/${id}/retry`)],
    ['GET /health', () => t.http.get('/health')],
    ['GET /metrics', () => t.http.get('/metrics')],
  ];
  // Every route is called before the verdict, so that a failure names each route that failed.
  const problems: string[] = [];
  for (const [route, call] of routes) {
    const startedAt = Date.now();
    const response = await call();
    const elapsed = Date.now() - startedAt;
    try {
      assert.equal(response.status, 503, 'status');
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/, 'content-type');
      if (route === 'GET /health') {
        assert.deepEqual(response.body, { status: 'unavailable', postgres: 'down', redis: 'up' }, 'body');
      } else {
        assert.deepEqual(Object.keys(response.body).sort(), ['error', 'message', 'statusCode'], 'body keys');
        assert.equal(response.body.statusCode, 503, 'statusCode');
        assert.equal(response.body.error, 'Service Unavailable', 'error');
        assert.match(response.body.message, /unavailable/, 'message');
      }
      assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    } catch (error) {
      problems.push(
        `${route}: ${(error as Error).message} (got ${response.status} ${response.text.slice(0, 200)})`,
      );
    }
  }
  assert.deepEqual(problems, []);
}

describe('Postgres outage', () => {
  let t: TestApp;
  let proxy: TcpProxy;
  after(async () => {
    // Close the app with its service reachable: shutting down during an outage is not what this tests.
    await proxy?.restore();
    await t?.close();
    await proxy?.close();
  });

  it('answers 503 fast on every route, keeps in-flight work without spending attempts, and resumes when Postgres is back', async () => {
    proxy = await TcpProxy.start(5432);
    t = await startTestApp({
      sagaModules,
      env: (e) => ({ DATABASE_URL: e.databaseUrl.replace(':5432/', `:${proxy.port}/`) }),
    });
    const journal = t.app.get(Journal);
    const { body } = await t.http.post('/sagas/scripted', { script: { b: ['slow'] } });
    await waitFor(async () => (journal.handlers(body.id).includes('b') ? true : undefined));

    await proxy.cut();
    await assertEveryRouteUnavailable(t, body.id);

    // Step b finishes during the outage; its outcome waits for Postgres instead of being lost.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await proxy.restore();

    const saga = await waitForSaga(t.http, body.id, ['completed'], 30_000);
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.attempts]),
      [
        ['a', 1],
        ['b', 1],
        ['c', 1],
        ['d', 1],
      ],
    );
    assert.deepEqual(journal.handlers(body.id), ['a', 'b', 'c', 'd']);
    assert.equal((await t.http.get('/health')).status, 200);
    // The refused start wrote nothing.
    const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM sagas`;
    assert.equal(count, 1);
  });
});

describe('Redis outage', () => {
  let t: TestApp;
  let proxy: TcpProxy;
  after(async () => {
    // Close the app with its service reachable: shutting down during an outage is not what this tests.
    await proxy?.restore();
    await t?.close();
    await proxy?.close();
  });

  it('still records started sagas (202) and runs them once Redis is back', async () => {
    proxy = await TcpProxy.start(6379);
    t = await startTestApp({ sagaModules, env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });

    await proxy.cut();
    const health = await t.http.get('/health');
    assert.equal(health.status, 503);
    assert.deepEqual(health.body, { status: 'unavailable', postgres: 'up', redis: 'down' });

    const startedAt = Date.now();
    const started = await t.http.post('/sagas/order', orderInput());
    assert.equal(started.status, 202);
    assert.ok(Date.now() - startedAt < 3000, `start took ${Date.now() - startedAt} ms while Redis was down`);
    const [row] = await t.sql`
      SELECT s.status, x.due_at IS NOT NULL AS due FROM sagas s JOIN saga_units x ON x.saga_id = s.id AND x.key = 's0'
      WHERE s.id = ${started.body.id}`;
    assert.deepEqual({ ...row }, { status: 'pending', due: true });

    await proxy.restore();
    const saga = await waitForSaga(t.http, started.body.id, ['completed'], 30_000);
    assert.deepEqual(
      saga.steps!.map((s) => s.attempts),
      [1, 1, 1],
    );
  });
});

describe('Redis loses its data', () => {
  let t: TestApp;
  after(() => t?.close());

  it('the reconciler re-enqueues every due unit within seconds and no step runs twice once recorded', async () => {
    // Few workers for many slow steps, so that units certainly wait in Redis when it is wiped.
    t = await startTestApp({ sagaModules, env: { WORKER_CONCURRENCY: '5' } });
    const journal = t.app.get(Journal);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      // b fails once and waits 50 ms for its retry, so some units sit delayed in Redis when it is wiped.
      ids.push(
        (await t.http.post('/sagas/scripted', { script: { b: ['fail', 'ok'], c: ['slow'] } })).body.id,
      );
    }
    await waitFor(async () =>
      journal.entries.filter((e) => e.handler === 'c').length >= 5 ? true : undefined,
    );

    // Wipe a few times, so that some units are certainly lost (queued, delayed or in flight).
    const wipedAt = Date.now();
    for (let wipe = 0; wipe < 3; wipe++) {
      await wipeRedisPrefix(t.redis, t.queuePrefix);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }

    for (const id of ids)
      assert.equal((await waitForSaga(t.http, id, ['completed'], 30_000)).status, 'completed');
    assert.ok(Date.now() - wipedAt < 25_000, `recovered in ${Date.now() - wipedAt} ms`);

    const metrics = await t.http.get('/metrics');
    const redriven = Number(/saga_reconciler_redriven_total (\d+)/.exec(metrics.text)?.[1]);
    assert.ok(redriven > 0, 'the reconciler re-enqueued units');
    const duplicates = await t.sql`
      SELECT saga_id, step, count(*)::int AS n FROM saga_events
      WHERE type = 'step_completed' GROUP BY saga_id, step HAVING count(*) > 1`;
    assert.equal(duplicates.length, 0);
    for (const id of ids) {
      const completedHandlers = journal.handlers(id).filter((h) => h === 'a' || h === 'd');
      assert.deepEqual(completedHandlers, ['a', 'd'], `saga ${id}: a and d ran once each`);
    }
  });
});
